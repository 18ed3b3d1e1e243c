#include "common/ngsi_json.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace ngsi_bridge::common {
namespace {

using ::testing::HasSubstr;

TEST(NgsiJsonTest, ValueRoundTripKeepsEveryJsonType) {
  const auto doc = ParseJson(
      R"({"n":1,"f":2.5,"s":"x","b":true,"z":null,"a":[1,{"k":"v"}],"o":{}})");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(ValueToJson(JsonToValue(*doc)), *doc);
}

TEST(NgsiJsonTest, RejectsInvalidUtf8WithOffset) {
  const auto doc = ParseJson("{\"a\":\"\xC3\x28\"}");
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(doc.status().message(), HasSubstr("byte offset 6"));
}

TEST(NgsiJsonTest, RejectsOverlongAndSurrogateUtf8) {
  EXPECT_FALSE(ValidateUtf8("\xC0\xAF").ok());          // overlong '/'
  EXPECT_FALSE(ValidateUtf8("\xED\xA0\x80").ok());      // surrogate
  EXPECT_FALSE(ValidateUtf8("\xF4\x90\x80\x80").ok());  // > U+10FFFF
  EXPECT_TRUE(ValidateUtf8("caf\xC3\xA9 \xF0\x9F\x98\x80").ok());
}

TEST(NgsiJsonTest, RejectsNestingDeeperThanLimit) {
  const std::string deep = std::string(10, '[') + std::string(10, ']');
  EXPECT_TRUE(ParseJson(deep, {.max_depth = 10}).ok());
  const auto too_deep = ParseJson(deep, {.max_depth = 9});
  ASSERT_FALSE(too_deep.ok());
  EXPECT_THAT(too_deep.status().message(), HasSubstr("deeper than 9"));
}

TEST(NgsiJsonTest, SyntaxErrorNamesItsPosition) {
  const auto doc = ParseJson("{\"a\": }");
  ASSERT_FALSE(doc.ok());
  EXPECT_THAT(doc.status().message(), HasSubstr("invalid JSON at byte"));
}

TEST(NgsiJsonTest, EventJsonLineUsesDocumentedFieldNames) {
  v1::NgsiEvent event;
  event.set_sequence(42);
  event.set_subscription_id("sub1");
  event.set_service_path("/madrid");
  event.set_flavor(v1::NGSI_V2);
  event.set_format(v1::NORMALIZED);
  event.mutable_received_at()->set_seconds(1795600800);
  auto* entity = event.add_entities();
  entity->set_id("Room1");
  entity->set_type("Room");
  auto& attr = (*entity->mutable_attrs())["temperature"];
  attr.set_type("Number");
  attr.mutable_value()->set_number_value(23.5);
  const std::string line = EventToJsonLine(event);
  EXPECT_THAT(line, HasSubstr("\"sequence\":\"42\""));
  EXPECT_THAT(line, HasSubstr("\"subscriptionId\":\"sub1\""));
  EXPECT_THAT(line, HasSubstr("\"servicePath\":\"/madrid\""));
  EXPECT_THAT(line, HasSubstr("\"flavor\":\"NGSI_V2\""));
  EXPECT_THAT(line, HasSubstr("\"format\":\"NORMALIZED\""));
  EXPECT_THAT(line, HasSubstr("\"receivedAt\":\"2026-11-25T"));
  EXPECT_THAT(line,
              HasSubstr("\"attrs\":{\"temperature\":{\"type\":\"Number\","
                        "\"value\":23.5}}"));
  EXPECT_EQ(line.find('\n'), std::string::npos);

  const auto parsed = EventFromJsonLine(line);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->SerializeAsString(), event.SerializeAsString());
}

TEST(NgsiJsonTest, EventJsonLineEscapesNewlinesInsideValues) {
  v1::NgsiEvent event;
  event.set_body("line1\nline2");
  EXPECT_EQ(EventToJsonLine(event).find('\n'), std::string::npos);
}

}  // namespace
}  // namespace ngsi_bridge::common
