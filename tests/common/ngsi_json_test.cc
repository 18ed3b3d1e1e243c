#include "common/ngsi_json.h"

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
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

TEST(NgsiJsonTest, BracketsInsideStringsDoNotCountAsNesting) {
  // Escaped quotes do not end the string early.
  const auto doc = ParseJson(R"({"a":"[[[{{\"[[[","b":["]]]"]})",
                             {.max_depth = 2});
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ((*doc)["a"], "[[[{{\"[[[");
  EXPECT_FALSE(ParseJson(R"({"a":"\"","b":[[1]]})", {.max_depth = 2}).ok());
}

TEST(NgsiJsonTest, ManySiblingObjectsParseWhole) {
  // The shape of a wide entity: every attribute an object.
  std::string text = "{";
  for (int i = 0; i < 2000; ++i) {
    absl::StrAppend(&text, i == 0 ? "" : ",", "\"a", i,
                    "\":{\"type\":\"Number\",\"value\":", i, "}");
  }
  text += "}";
  const auto doc = ParseJson(text);
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(doc->size(), 2000u);
  EXPECT_EQ((*doc)["a1999"]["value"], 1999);
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

// EventToJsonLine() is a direct writer that must print exactly what
// protobuf's MessageToJsonString() prints (the event-json contract predates
// it). These compare both, byte for byte, on what is hard to get right.
std::vector<std::string> TrickyStrings() {
  std::vector<std::string> strings = {
      "",
      "plain ascii / & ' `",
      "quote \" backslash \\ lt < gt > amp &",
      "tab\tnewline\ncr\rbs\bff\f",
      std::string("nul\0inside", 10),
      "\x01\x1f\x7f",
      "C1 \xC2\x80 \xC2\x9F, nbsp \xC2\xA0, soft hyphen \xC2\xAD",
      "caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80",
      "arabic \xD8\x80 \xDB\x9D syriac \xDC\x8F khmer \xE1\x9E\xB4",
      "zero width \xE2\x80\x8B \xE2\x80\x8F line sep \xE2\x80\xA8 \xE2\x80\xAE",
      "invisible \xE2\x81\xA0 \xE2\x81\xA4 \xE2\x81\xAA \xE2\x81\xAF",
      "bom \xEF\xBB\xBF interlinear \xEF\xBF\xB9 \xEF\xBF\xBB",
      "music \xF0\x9D\x85\xB3 tag \xF3\xA0\x80\x81 \xF3\xA0\x81\x81",
      "overlong quote \xC0\xA2 and A \xC1\x81",
      "invalid \xFF byte",
      "lone continuation \x80 byte",
      "truncated \xE2\x82",
      "bad continuation \xE2\x28\xA1",
      "surrogate \xED\xA0\x80",
      "beyond \xF4\x90\x80\x80",
  };
  std::string every_ascii;
  for (int c = 0; c < 128; ++c) every_ascii += static_cast<char>(c);
  strings.push_back(every_ascii);
  return strings;
}

TEST(EventJsonWriterTest, StringsAreEscapedAsProtobufDoes) {
  for (const std::string& text : TrickyStrings()) {
    v1::NgsiEvent event;
    event.set_body(text);
    (*event.mutable_headers())[text] = text;
    v1::Entity* entity = event.add_entities();
    entity->set_id(text);
    entity->add_types(text);
    v1::Attribute& attr = (*entity->mutable_attrs())[text];
    attr.mutable_value()->set_string_value(text);
    auto* fields =
        (*attr.mutable_extra())[text].mutable_struct_value()->mutable_fields();
    (*fields)[text].set_string_value(text);
    EXPECT_EQ(EventToJsonLine(event), EventToJsonLineByProtobufForTest(event))
        << text;
  }
}

TEST(EventJsonWriterTest, NumbersAreFormattedAsProtobufDoes) {
  std::vector<double> numbers = {
      0.0, -0.0, 1, -1, 0.1, 0.2, 1.0 / 3, 23.5, 100, 1e15, 1e16, 1e17,
      1e21, 1e22, 1e-5, 1e-7, 123456789012345678.0, 9007199254740993.0,
      5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -273.15,
      40.4167754, -3.7037902};
  std::mt19937_64 random(42);
  std::uniform_real_distribution<double> uniform(-1e6, 1e6);
  for (int i = 0; i < 300; ++i) {
    numbers.push_back(uniform(random));
    numbers.push_back(std::ldexp(uniform(random), i - 150));
  }
  v1::NgsiEvent event;
  v1::Entity* entity = event.add_entities();
  for (double number : numbers) entity->add_values()->set_number_value(number);
  EXPECT_EQ(EventToJsonLine(event), EventToJsonLineByProtobufForTest(event));
}

TEST(EventJsonWriterTest, TimestampsAreFormattedAsProtobufDoes) {
  for (int64_t seconds :
       {int64_t{0}, int64_t{1795600800}, int64_t{-1}, int64_t{-62135596800},
        int64_t{253402300799}}) {
    for (int32_t nanos : {0, 1, 1000, 120000000, 123456000, 999999999}) {
      v1::NgsiEvent event;
      event.mutable_received_at()->set_seconds(seconds);
      event.mutable_received_at()->set_nanos(nanos);
      event.mutable_notified_at();  // set, all zero
      EXPECT_EQ(EventToJsonLine(event),
                EventToJsonLineByProtobufForTest(event))
          << seconds << "." << nanos;
    }
  }
}

v1::Attribute FullAttribute(int depth) {
  v1::Attribute attr;
  attr.set_type("Property");
  attr.mutable_value()->set_number_value(21.5);
  if (depth > 0) {
    (*attr.mutable_metadata())["unit"] = FullAttribute(depth - 1);
    (*attr.mutable_metadata())["accuracy"].set_type("Number");
    (*attr.mutable_metadata())["empty"];
    *attr.add_instances() = FullAttribute(depth - 1);
  }
  attr.mutable_object()->set_string_value("urn:ngsi-ld:Building:1");
  auto* languages = attr.mutable_language_map()->mutable_struct_value();
  (*languages->mutable_fields())["en"].set_string_value("red");
  (*languages->mutable_fields())["es"].set_string_value("rojo");
  (*languages->mutable_fields())["fr"].set_string_value("rouge");
  attr.mutable_vocab()->mutable_list_value()->add_values()->set_string_value(
      "v");
  attr.mutable_json()->mutable_struct_value();  // {}
  attr.set_observed_at("2026-11-25T10:00:00Z");
  attr.set_unit_code("CEL");
  attr.set_dataset_id("urn:ds:1");
  attr.set_created_at("c");
  attr.set_modified_at("m");
  attr.set_deleted_at("d");
  attr.set_lang("en");
  attr.mutable_previous_value()->set_bool_value(false);
  attr.mutable_previous_object()->set_null_value(
      google::protobuf::NULL_VALUE);
  attr.mutable_previous_language_map()->mutable_list_value();  // []
  attr.mutable_previous_vocab()->set_string_value("pv");
  attr.mutable_previous_json()->set_number_value(0);
  (*attr.mutable_extra())["x"].set_bool_value(true);
  (*attr.mutable_extra())["y"].set_number_value(-2);
  attr.set_bare(true);
  return attr;
}

v1::NgsiEvent FullEvent() {
  v1::NgsiEvent event;
  event.set_sequence(18446744073709551615u);
  event.mutable_received_at()->set_seconds(1795600800);
  event.mutable_received_at()->set_nanos(123000000);
  event.mutable_notified_at()->set_seconds(1795600799);
  event.set_subscription_id("6717a1b2c3d4e5f60718293a");
  event.set_service("smartcity");
  event.set_service_path("/madrid");
  event.set_correlator("8b2f; cbnotif=1");
  event.set_flavor(v1::NGSI_LD);
  event.set_format(v1::GEOJSON);
  for (int i = 0; i < 3; ++i) {
    v1::Entity* entity = event.add_entities();
    entity->set_id("urn:ngsi-ld:Room:" + std::to_string(i));
    if (i != 1) entity->set_type("Room");
    for (const char* name : {"temperature", "pressure", "humidity", "co2"}) {
      (*entity->mutable_attrs())[name] = FullAttribute(i);
    }
    entity->add_types("Room");
    entity->add_types("Space");
    entity->set_scope("/a");
    entity->set_created_at("c");
    entity->set_modified_at("m");
    entity->set_deleted_at("d");
    entity->set_deleted(i == 2);
    entity->mutable_context()->set_string_value("https://ctx");
    entity->add_values()->set_number_value(1);
    entity->add_values()->mutable_struct_value();
    entity->mutable_legacy_status()->set_string_value("200");
    (*entity->mutable_extra())["a"].set_string_value("b");
    (*entity->mutable_extra())["c"].mutable_list_value();
    entity->mutable_geometry()->set_null_value(google::protobuf::NULL_VALUE);
  }
  event.add_contexts()->set_string_value("https://uri.etsi.org/ngsi-ld/v1");
  event.add_contexts()->mutable_struct_value();
  event.set_notification_id("n1");
  event.set_content_type("application/json");
  event.set_body("{\"a\":1}");
  event.set_method("POST");
  event.set_path("/notify");
  event.set_query("a=1&b=<2>");
  (*event.mutable_headers())["fiware-service"] = "smartcity";
  (*event.mutable_headers())["link"] = "<https://ctx>; rel=\"x\"";
  (*event.mutable_headers())["x-empty"] = "";
  event.set_attrs_format("normalized");
  event.set_originator("orion");
  event.set_backfill(true);
  (*event.mutable_extra())[""].set_string_value("empty key");
  (*event.mutable_extra())["nested"].mutable_struct_value();
  return event;
}

TEST(EventJsonWriterTest, EveryFieldAsProtobufPrintsIt) {
  const v1::NgsiEvent event = FullEvent();
  EXPECT_EQ(EventToJsonLine(event), EventToJsonLineByProtobufForTest(event));
  EXPECT_EQ(EventToJsonLine(v1::NgsiEvent()), "{}");
  v1::Entity bare;
  bare.set_id("");  // proto3 optional: printed although empty
  v1::NgsiEvent with_empty_id;
  *with_empty_id.add_entities() = bare;
  EXPECT_EQ(EventToJsonLine(with_empty_id),
            EventToJsonLineByProtobufForTest(with_empty_id));
}

TEST(EventJsonWriterTest, WhatItCannotReproduceGoesThroughProtobuf) {
  std::vector<v1::NgsiEvent> events(5, FullEvent());
  (*events[0].mutable_extra())["no kind"];  // a Value with no kind
  events[1].add_contexts()->set_number_value(
      std::numeric_limits<double>::quiet_NaN());
  events[2].add_contexts()->set_number_value(
      -std::numeric_limits<double>::infinity());
  events[3].mutable_received_at()->set_seconds(253402300800);  // year 10000
  events[4].set_flavor(static_cast<v1::Flavor>(77));
  for (const v1::NgsiEvent& event : events) {
    EXPECT_EQ(EventToJsonLine(event), EventToJsonLineByProtobufForTest(event));
  }
}

}  // namespace
}  // namespace ngsi_bridge::common
