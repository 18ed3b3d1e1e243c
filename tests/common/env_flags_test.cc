#include "common/env_flags.h"

#include <cstdlib>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ngsi_bridge::common {
namespace {

TEST(EnvFlagsTest, EnvNameIsPrefixPlusUpperCaseFlag) {
  EXPECT_EQ(EnvNameForFlag("NGSI_RECEIVER_", "http_port"),
            "NGSI_RECEIVER_HTTP_PORT");
}

TEST(EnvFlagsTest, CollectsEveryRepeatedValueInOrder) {
  const char* args[] = {"prog", "--broker=a=http://x", "--other=1",
                        "--broker", "b=http://y,flavor=ld", "-broker=c=http://z"};
  EXPECT_THAT(CollectRepeatedFlag(6, const_cast<char**>(args), "broker",
                                  "NB_TEST_"),
              ::testing::ElementsAre("a=http://x", "b=http://y,flavor=ld",
                                     "c=http://z"));
}

TEST(EnvFlagsTest, RepeatedFlagFallsBackToSemicolonSeparatedEnvironment) {
  setenv("NB_TEST_BROKER", "a=http://x; b=http://y", 1);
  const char* args[] = {"prog"};
  EXPECT_THAT(
      CollectRepeatedFlag(1, const_cast<char**>(args), "broker", "NB_TEST_"),
      ::testing::ElementsAre("a=http://x", "b=http://y"));
  unsetenv("NB_TEST_BROKER");
}

TEST(EnvFlagsTest, RepeatedFlagDoesNotMatchLongerFlagNames) {
  const char* args[] = {"prog", "--brokers=x"};
  EXPECT_TRUE(
      CollectRepeatedFlag(2, const_cast<char**>(args), "broker", "NB_TEST_")
          .empty());
}

}  // namespace
}  // namespace ngsi_bridge::common
