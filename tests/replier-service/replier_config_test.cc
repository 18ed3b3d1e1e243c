#include "replier-service/replier_config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ngsi_bridge::replier {
namespace {

using ::testing::HasSubstr;

TEST(ReplierConfigTest, ParsesNameUrlAndFlavor) {
  BrokerConfig broker;
  ASSERT_TRUE(ParseBroker("orion=http://orion:1026/,flavor=v2", broker).ok());
  EXPECT_EQ(broker.name, "orion");
  EXPECT_EQ(broker.url, "http://orion:1026");
  EXPECT_EQ(broker.flavor, v1::NGSI_V2);
  ASSERT_TRUE(ParseBroker("ld=https://scorpio:9090,flavor=ld", broker).ok());
  EXPECT_EQ(broker.flavor, v1::NGSI_LD);
}

TEST(ReplierConfigTest, RejectsBrokerWithoutSchemeOrName) {
  BrokerConfig broker;
  EXPECT_THAT(ParseBroker("orion=orion:1026", broker).message(),
              HasSubstr("http://"));
  EXPECT_THAT(ParseBroker("http://orion:1026", broker).message(),
              HasSubstr("--broker"));
  EXPECT_THAT(ParseBroker("o=http://x,flavor=v3", broker).message(),
              HasSubstr("flavor=v3"));
}

TEST(ReplierConfigTest, RejectsDuplicateBrokerNames) {
  ReplierConfig config;
  config.brokers = {{"a", "http://x", v1::NGSI_V2},
                    {"a", "http://y", v1::NGSI_LD}};
  EXPECT_THAT(config.Validate().message(), HasSubstr("'a' given twice"));
}

}  // namespace
}  // namespace ngsi_bridge::replier
