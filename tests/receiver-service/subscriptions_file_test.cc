#include "receiver-service/subscriptions_file.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ngsi_bridge::receiver {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(SubscriptionsFileTest, ReadsYamlWithDefaults) {
  const auto specs = ParseSubscriptionsText(R"(
# the receiver's subscriptions
defaults:
  broker: http://orion:1026/
  service: smartcity
subscriptions:
  - name: rooms
    service_path: /madrid
    headers: {X-Auth-Token: "secret"}
    entities:
      - idPattern: "Room.*"
        type: Room
    condition_attrs: [temperature]
    notified_attrs: [temperature, pressure]
    throttling: 5
    expires: 2050-01-01T00:00:00Z
    description: rooms of Madrid
  - name: parking
    flavor: ld
    service: other
    entities: [{type: OffStreetParking}]
    format: concise
    callback_url: http://receiver.example:8061/notify
)",
                                            "subs.yaml");
  ASSERT_TRUE(specs.ok()) << specs.status();
  ASSERT_EQ(specs->size(), 2u);
  const SubscriptionSpec& rooms = (*specs)[0];
  EXPECT_EQ(rooms.name, "rooms");
  EXPECT_EQ(rooms.broker_url, "http://orion:1026");  // trailing / dropped
  EXPECT_EQ(rooms.flavor, v1::NGSI_V2);
  EXPECT_EQ(rooms.service, "smartcity");
  EXPECT_EQ(rooms.service_path, "/madrid");
  EXPECT_EQ(rooms.headers.size(), 1u);
  EXPECT_EQ(rooms.entities[0].id_pattern, "Room.*");
  EXPECT_EQ(rooms.entities[0].type, "Room");
  EXPECT_THAT(rooms.notified_attrs, ElementsAre("temperature", "pressure"));
  EXPECT_EQ(rooms.throttling_seconds, 5);
  EXPECT_EQ(rooms.expires, "2050-01-01T00:00:00Z");
  const SubscriptionSpec& parking = (*specs)[1];
  EXPECT_EQ(parking.flavor, v1::NGSI_LD);
  EXPECT_EQ(parking.service, "other");
  EXPECT_EQ(parking.broker_url, "http://orion:1026");
  EXPECT_EQ(parking.format, "concise");
  EXPECT_EQ(parking.callback_url, "http://receiver.example:8061/notify");
  EXPECT_EQ(parking.expires, "");  // permanent
}

TEST(SubscriptionsFileTest, ReadsJsonListAlone) {
  const auto specs = ParseSubscriptionsText(
      R"([{"name":"a","broker":"http://b:1026",
           "entities":[{"id":"Room1","type":"Room"}]}])",
      "subs.json");
  ASSERT_TRUE(specs.ok()) << specs.status();
  ASSERT_EQ(specs->size(), 1u);
  EXPECT_EQ((*specs)[0].entities[0].id, "Room1");
}

TEST(SubscriptionsFileTest, QuotedScalarsStayStrings) {
  const auto specs = ParseSubscriptionsText(R"(
subscriptions:
  - name: "007"
    broker: http://b:1026
    entities: [{id: "42", type: Room}]
)",
                                            "subs.yaml");
  ASSERT_TRUE(specs.ok()) << specs.status();
  EXPECT_EQ((*specs)[0].name, "007");
  EXPECT_EQ((*specs)[0].entities[0].id, "42");
}

TEST(SubscriptionsFileTest, RejectsWhatItCannotTrust) {
  struct Case {
    const char* text;
    const char* error;
  } cases[] = {
      {"subscriptions: [{name: a, broker: http://b, entities: [{id: x}], "
       "notifed_attrs: [t]}]",
       "'notifed_attrs' is not a subscription key"},
      {"subscriptions: [{name: a, broker: http://b, entities: [{id: x}]}, "
       "{name: a, broker: http://b, entities: [{id: y}]}]",
       "'a' repeats"},
      {"subscriptions: [{name: a, entities: [{id: x}]}]", "broker url"},
      {"subscriptions: [{name: a, broker: http://b}]", "entity selector"},
      {"subscriptions: [{name: a, broker: http://b, entities: [{id: x}], "
       "throttling: soon}]",
       "whole number"},
      {"subscriptions: [{name: a, broker: http://b, entities: [{id: x}], "
       "expires: next week}]",
       "expires must be an ISO 8601"},
      {"subscriptions: [a, b", "YAML error"},
      {"x: &anchor 1\nsubscriptions: *anchor", "aliases"},
      {"other: 1", "unknown top-level key 'other'"},
  };
  for (const Case& c : cases) {
    const auto specs = ParseSubscriptionsText(c.text, "subs.yaml");
    ASSERT_FALSE(specs.ok()) << c.text;
    EXPECT_EQ(specs.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(specs.status().message(), HasSubstr(c.error)) << c.text;
  }
}

TEST(SubscriptionsFileTest, MissingFileIsNotFound) {
  EXPECT_EQ(LoadSubscriptionsFile("/nonexistent/subs.yaml").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace ngsi_bridge::receiver
