#include "receiver-service/subscription_spec.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace ngsi_bridge::receiver {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using json = nlohmann::json;

SubscriptionSpec RoomsV2() {
  SubscriptionSpec spec;
  spec.name = "rooms";
  spec.broker_url = "http://orion:1026";
  spec.service = "smartcity";
  spec.service_path = "/madrid";
  spec.entities = {{"", "Room.*", "Room"}};
  spec.condition_attrs = {"temperature"};
  spec.notified_attrs = {"temperature", "pressure"};
  spec.description = "rooms of Madrid";
  return spec;
}

TEST(SubscriptionSpecTest, MarkerRoundTrips) {
  EXPECT_EQ(OwnershipMarker("rooms"), "[ngsi-bridge:rooms]");
  EXPECT_EQ(DescriptionFor(RoomsV2()), "[ngsi-bridge:rooms] rooms of Madrid");
  EXPECT_EQ(OwnerFromDescription("[ngsi-bridge:rooms] rooms of Madrid"),
            "rooms");
  EXPECT_EQ(OwnerFromDescription("someone else's"), std::nullopt);
  EXPECT_EQ(OwnerFromDescription("[ngsi-bridge:unterminated"), std::nullopt);
}

TEST(SubscriptionSpecTest, RendersNgsiV2Subscription) {
  const json body = DesiredSubscriptionJson(RoomsV2(), "http://r:8061/notify");
  EXPECT_EQ(body["description"], "[ngsi-bridge:rooms] rooms of Madrid");
  EXPECT_EQ(body["subject"]["entities"],
            json::parse(R"([{"idPattern":"Room.*","type":"Room"}])"));
  EXPECT_EQ(body["subject"]["condition"]["attrs"],
            json::parse(R"(["temperature"])"));
  EXPECT_EQ(body["notification"]["http"]["url"], "http://r:8061/notify");
  EXPECT_EQ(body["notification"]["attrsFormat"], "normalized");
  EXPECT_FALSE(body.contains("throttling"));
}

TEST(SubscriptionSpecTest, RendersNgsiLdSubscription) {
  SubscriptionSpec spec = RoomsV2();
  spec.flavor = v1::NGSI_LD;
  spec.throttling_seconds = 5;
  const json body = DesiredSubscriptionJson(spec, "http://r:8061/notify");
  EXPECT_EQ(body["type"], "Subscription");
  EXPECT_EQ(body["watchedAttributes"], json::parse(R"(["temperature"])"));
  EXPECT_EQ(body["notification"]["attributes"],
            json::parse(R"(["temperature","pressure"])"));
  EXPECT_EQ(body["notification"]["endpoint"]["uri"], "http://r:8061/notify");
  EXPECT_EQ(body["throttling"], 5);
}

TEST(SubscriptionSpecTest, NoDriftAgainstItsOwnRendering) {
  for (v1::Flavor flavor : {v1::NGSI_V2, v1::NGSI_LD}) {
    SubscriptionSpec spec = RoomsV2();
    spec.flavor = flavor;
    const json body = DesiredSubscriptionJson(spec, "http://r/n");
    EXPECT_THAT(FindDrift(spec, "http://r/n", body), IsEmpty());
  }
}

TEST(SubscriptionSpecTest, BrokerDefaultsAndOrderAreNotDrift) {
  SubscriptionSpec spec = RoomsV2();
  spec.condition_attrs.clear();
  spec.notified_attrs = {"a", "b"};
  // Orion lists what it was given plus its defaults, in any attr order.
  const json actual = json::parse(R"({
    "id": "x", "description": "[ngsi-bridge:rooms] rooms of Madrid",
    "status": "failed",
    "subject": {"entities": [{"idPattern": "Room.*", "type": "Room"}],
                "condition": {"notifyOnMetadataChange": true}},
    "notification": {"http": {"url": "http://r/n"}, "attrs": ["b", "a"],
                     "attrsFormat": "normalized", "timesSent": 3,
                     "failsCounter": 2, "onlyChangedAttrs": false}})");
  EXPECT_THAT(FindDrift(spec, "http://r/n", actual), IsEmpty());
}

TEST(SubscriptionSpecTest, NamesEachDriftedMember) {
  const SubscriptionSpec spec = RoomsV2();
  json actual = DesiredSubscriptionJson(spec, "http://r/n");
  actual["notification"]["attrs"] = json::array({"temperature"});
  actual["notification"]["http"]["url"] = "http://old/n";
  actual["throttling"] = 10;
  EXPECT_THAT(FindDrift(spec, "http://r/n", actual),
              ElementsAre("throttling", "notification.attrs",
                          "notification.http.url"));
}

TEST(SubscriptionSpecTest, ThrottlingAndExpiryAsBrokersEchoThemAreNotDrift) {
  // Orion renders expires with milliseconds and throttling as an integer;
  // Orion-LD says expiresAt and may answer throttling as a double.
  SubscriptionSpec spec = RoomsV2();
  spec.throttling_seconds = 5;
  spec.expires = "2050-04-05T14:00:00Z";
  json actual = DesiredSubscriptionJson(spec, "http://r/n");
  actual["expires"] = "2050-04-05T14:00:00.000Z";
  actual["status"] = "active";
  EXPECT_THAT(FindDrift(spec, "http://r/n", actual), IsEmpty());
  spec.expires = "2050-04-05T14:00:00";  // no zone: UTC, as for Orion
  EXPECT_THAT(FindDrift(spec, "http://r/n", actual), IsEmpty());

  spec.flavor = v1::NGSI_LD;
  spec.entities = {{"", "", "Room"}};
  actual = DesiredSubscriptionJson(spec, "http://r/n");
  EXPECT_EQ(actual["expiresAt"], "2050-04-05T14:00:00");
  actual["expiresAt"] = "2050-04-05T14:00:00.000Z";
  actual["throttling"] = 5.0;
  EXPECT_THAT(FindDrift(spec, "http://r/n", actual), IsEmpty());
}

TEST(SubscriptionSpecTest, ThrottlingAndExpiryDrift) {
  SubscriptionSpec spec = RoomsV2();
  spec.throttling_seconds = 5;
  json actual = DesiredSubscriptionJson(spec, "http://r/n");
  actual.erase("throttling");
  actual["expires"] = "2040-01-01T00:00:00.000Z";
  const std::vector<std::string> drift = FindDrift(spec, "http://r/n", actual);
  EXPECT_THAT(drift, ElementsAre("throttling", "expires"));
  // The PATCH sets the throttling and makes the subscription permanent.
  json patch = SubscriptionPatchJson(spec, "http://r/n", drift);
  EXPECT_EQ(patch["throttling"], 5);
  EXPECT_EQ(patch["expires"], "");

  // The file wants no throttling but the broker has one: 0 removes it.
  spec.throttling_seconds = 0;
  spec.expires = "2041-01-01T00:00:00Z";
  actual["throttling"] = 7;
  patch = SubscriptionPatchJson(spec, "http://r/n",
                                FindDrift(spec, "http://r/n", actual));
  EXPECT_EQ(patch["throttling"], 0);
  EXPECT_EQ(patch["expires"], "2041-01-01T00:00:00Z");

  // NGSI-LD removes a member with null.
  spec.flavor = v1::NGSI_LD;
  spec.entities = {{"", "", "Room"}};
  spec.expires.clear();
  actual = DesiredSubscriptionJson(spec, "http://r/n");
  actual["expiresAt"] = "2040-01-01T00:00:00.000Z";
  const std::vector<std::string> ld_drift =
      FindDrift(spec, "http://r/n", actual);
  EXPECT_THAT(ld_drift, ElementsAre("expiresAt"));
  patch = SubscriptionPatchJson(spec, "http://r/n", ld_drift);
  EXPECT_TRUE(patch.contains("expiresAt"));
  EXPECT_TRUE(patch["expiresAt"].is_null());
  EXPECT_FALSE(patch.contains("type"));
  EXPECT_FALSE(patch.contains("throttling"));
}

TEST(SubscriptionSpecTest, ParsesBrokerTimes) {
  EXPECT_EQ(ParseBrokerTime("2050-04-05T14:00:00.000Z"),
            ParseBrokerTime("2050-04-05T14:00:00"));
  EXPECT_EQ(ParseBrokerTime("2050-04-05T16:00:00+02:00"),
            ParseBrokerTime("2050-04-05T14:00:00Z"));
  EXPECT_TRUE(ParseBrokerTime("2050-04-05").has_value());
  EXPECT_FALSE(ParseBrokerTime("soon").has_value());
  EXPECT_FALSE(ParseBrokerTime("").has_value());
}

TEST(SubscriptionSpecTest, ValidatesFields) {
  EXPECT_TRUE(ValidateSubscriptionSpec(RoomsV2()).ok());
  SubscriptionSpec spec = RoomsV2();
  spec.broker_url = "orion:1026";
  EXPECT_EQ(ValidateSubscriptionSpec(spec).code(),
            absl::StatusCode::kInvalidArgument);
  spec = RoomsV2();
  spec.entities = {{"Room1", "Room.*", ""}};
  EXPECT_FALSE(ValidateSubscriptionSpec(spec).ok());
  spec = RoomsV2();
  spec.flavor = v1::NGSI_LD;
  spec.entities = {{"", "", ""}};
  EXPECT_FALSE(ValidateSubscriptionSpec(spec).ok());  // LD needs a type
  spec.entities = {{"", "", "Room"}};
  EXPECT_TRUE(ValidateSubscriptionSpec(spec).ok());
  spec.format = "values";  // v2 only
  EXPECT_FALSE(ValidateSubscriptionSpec(spec).ok());
  spec = RoomsV2();
  spec.expires = "next year";
  EXPECT_FALSE(ValidateSubscriptionSpec(spec).ok());
  spec.expires = "2050-01-01T00:00:00Z";
  EXPECT_TRUE(ValidateSubscriptionSpec(spec).ok());
}

TEST(SubscriptionSpecTest, CallHeadersCarryTenancyThenCredentials) {
  SubscriptionSpec spec = RoomsV2();
  spec.headers = {{"X-Auth-Token", "secret"}};
  EXPECT_THAT(BrokerCallHeaders(spec),
              ElementsAre(std::pair<std::string, std::string>(
                              "Fiware-Service", "smartcity"),
                          std::pair<std::string, std::string>(
                              "Fiware-ServicePath", "/madrid"),
                          std::pair<std::string, std::string>("X-Auth-Token",
                                                              "secret")));
  spec.flavor = v1::NGSI_LD;
  spec.headers.clear();
  EXPECT_THAT(BrokerCallHeaders(spec),
              ElementsAre(std::pair<std::string, std::string>(
                  "NGSILD-Tenant", "smartcity")));
}

}  // namespace
}  // namespace ngsi_bridge::receiver
