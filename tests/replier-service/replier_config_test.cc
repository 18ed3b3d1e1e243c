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
  BrokerConfig first, second;
  first.name = second.name = "a";
  first.url = "http://x";
  second.url = "http://y";
  config.brokers = {first, second};
  EXPECT_THAT(config.Validate().message(), HasSubstr("'a' given twice"));
}

TEST(ReplierConfigTest, ParsesEveryBrokerOption) {
  BrokerConfig broker;
  ASSERT_TRUE(ParseBroker("o=http://orion:1026/base,flavor=ld,service=city,"
                          "service_path=/madrid,token=abc,timeout_ms=250,"
                          "max_connections=3,max_entities=50,max_bytes=4096",
                          broker)
                  .ok());
  EXPECT_EQ(broker.url, "http://orion:1026/base");
  EXPECT_EQ(broker.flavor, v1::NGSI_LD);
  EXPECT_EQ(broker.service, "city");
  EXPECT_EQ(broker.service_path, "/madrid");
  EXPECT_EQ(broker.token, "abc");
  EXPECT_EQ(broker.timeout_ms, 250);
  EXPECT_EQ(broker.max_connections, 3);
  EXPECT_EQ(broker.EffectiveMaxEntities(), 50);
  EXPECT_EQ(broker.max_bytes, 4096);
  BrokerConfig auth;
  ASSERT_TRUE(ParseBroker("o=http://x,auth=Bearer xyz", auth).ok());
  EXPECT_EQ(auth.authorization, "Bearer xyz");
}

TEST(ReplierConfigTest, FlavorDefaultsEntityCap) {
  BrokerConfig v2, ld;
  ASSERT_TRUE(ParseBroker("a=http://x", v2).ok());
  ASSERT_TRUE(ParseBroker("b=http://x,flavor=ld", ld).ok());
  EXPECT_EQ(v2.EffectiveMaxEntities(), kDefaultMaxEntitiesV2);
  EXPECT_EQ(ld.EffectiveMaxEntities(), kDefaultMaxEntitiesLd);
  EXPECT_EQ(v2.max_bytes, 1 << 20);
}

TEST(ReplierConfigTest, ErrorsNeverShowSecrets) {
  BrokerConfig broker;
  const absl::Status status =
      ParseBroker("o=http://x,token=s3cret,bogus=1", broker);
  EXPECT_THAT(status.message(), HasSubstr("bogus=1"));
  EXPECT_THAT(status.message(), ::testing::Not(HasSubstr("s3cret")));
  EXPECT_THAT(ParseBroker("o=http://x,token=a,auth=b", broker).message(),
              HasSubstr("not both"));
  EXPECT_EQ(RedactBrokerFlag("o=http://x,auth=Bearer k,flavor=v2"),
            "o=http://x,auth=***,flavor=v2");
}

TEST(ReplierConfigTest, RejectsNonPositiveLimits) {
  BrokerConfig broker;
  EXPECT_THAT(ParseBroker("o=http://x,max_entities=0", broker).message(),
              HasSubstr("max_entities=0"));
  EXPECT_THAT(ParseBroker("o=http://x,timeout_ms=abc", broker).message(),
              HasSubstr("timeout_ms=abc"));
  EXPECT_THAT(ParseBroker("o=http://x?a=1", broker).message(),
              HasSubstr("query"));
  const absl::Status userinfo = ParseBroker("o=http://u:pw@x/orion", broker);
  EXPECT_THAT(userinfo.message(), HasSubstr("credentials"));
  EXPECT_THAT(userinfo.message(), HasSubstr("http://***@x/orion"));
  EXPECT_TRUE(ParseBroker("o=http://x/a@b", broker).ok());
}

}  // namespace
}  // namespace ngsi_bridge::replier
