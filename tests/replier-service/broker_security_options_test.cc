#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "replier-service/replier_config.h"

namespace ngsi_bridge::replier {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(BrokerSecurityOptionsTest, ParsesTlsAndOauth2Options) {
  BrokerConfig broker;
  ASSERT_TRUE(ParseBroker("orion=https://orion:1026,ca_file=/etc/ca.pem,"
                          "token_url=https://keyrock/oauth2/token,"
                          "client_id=app,client_secret_file=/run/secret",
                          broker)
                  .ok());
  EXPECT_EQ(broker.ca_file, "/etc/ca.pem");
  EXPECT_FALSE(broker.insecure);
  EXPECT_EQ(broker.oauth2_token_url, "https://keyrock/oauth2/token");
  EXPECT_EQ(broker.oauth2_client_id, "app");
  EXPECT_EQ(broker.oauth2_client_secret_file, "/run/secret");
  BrokerConfig lab;
  ASSERT_TRUE(ParseBroker("lab=https://lab,insecure=true", lab).ok());
  EXPECT_TRUE(lab.insecure);
  EXPECT_FALSE(ParseBroker("lab=https://lab,insecure=yes", lab).ok());
}

TEST(BrokerSecurityOptionsTest, IncompleteOrMixedCredentialsNeverEchoSecrets) {
  for (const char* text :
       {"o=http://o,client_secret=TOPSECRET",
        "o=http://o,token_url=http://k/t,client_secret=TOPSECRET",
        "o=http://o,token=TOPSECRET,token_url=http://k/t,client_id=a,"
        "client_secret_file=/f",
        "o=http://o,token_url=http://k/t,client_id=a,client_secret=TOPSECRET,"
        "client_secret_file=/f",
        "o=http://o,client_secret=TOPSECRET,bogus"}) {
    BrokerConfig broker;
    absl::Status status = ParseBroker(text, broker);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(status.message(), Not(HasSubstr("TOPSECRET")));
  }
  EXPECT_EQ(RedactBrokerFlag("o=http://o,client_secret=TOPSECRET,client_id=a"),
            "o=http://o,client_secret=***,client_id=a");
}

}  // namespace
}  // namespace ngsi_bridge::replier
