// The line formats: event-json, and the old connector's `fpc` and `body`
// lines (fpc/connector.py structureNGSIRequest of fiware-pyspark-connector
// 0.0.10). The e2e suite checks `fpc` lines with the real fpc.connector.parse.
#include "receiver-service/line_server.h"

#include <memory>
#include <string>

#include "common/ngsi_json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace ngsi_bridge::receiver {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;

LogRecord RecordWith(std::string body,
                     std::vector<std::pair<std::string, std::string>> headers) {
  LogRecord record;
  record.event.set_sequence(7);
  record.event.set_service("smartcity");
  record.event.mutable_received_at()->set_seconds(1795586400);  // 2026-11-25T06:00:00Z
  record.event.mutable_received_at()->set_nanos(123456000);
  auto request = std::make_shared<NotificationRequest>();
  request->method = "POST";
  request->path = "/notify";
  request->headers = std::move(headers);
  request->body = std::move(body);
  record.request = std::move(request);
  return record;
}

int Newlines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

TEST(LineServerTest, EventJsonLineIsTheEventAndOneNewline) {
  const LogRecord record = RecordWith("{}", {});
  const std::string line = FormatLine("event-json", record);
  EXPECT_EQ(Newlines(line), 1);
  EXPECT_THAT(line, EndsWith("\n"));
  auto event = common::EventFromJsonLine(line.substr(0, line.size() - 1));
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->sequence(), 7u);
  EXPECT_EQ(event->service(), "smartcity");
}

TEST(LineServerTest, BodyLineIsTheBodyVerbatimWhenOnOneLine) {
  const std::string body = R"({"subscriptionId":"s1","data":[{"id":"E1"}]})";
  EXPECT_EQ(FormatLine("body", RecordWith(body, {})), body + "\n");
}

TEST(LineServerTest, BodyLineCompactsPrettyJsonKeepingKeyOrder) {
  const std::string line =
      FormatLine("body", RecordWith("{\n  \"z\": 1,\n  \"a\": [1, 2]\n}", {}));
  EXPECT_EQ(line, "{\"z\":1,\"a\":[1,2]}\n");
}

TEST(LineServerTest, BodyLineTurnsBreaksOfTextIntoSpaces) {
  EXPECT_EQ(FormatLine("body", RecordWith("a\r\nb\nc", {})), "a  b c\n");
}

TEST(LineServerTest, FpcLineHasTimestampHeadersAndBody) {
  const std::string body = R"({"subscriptionId":"s1","data":[]})";
  const std::string line = FormatLine(
      "fpc", RecordWith(body, {{"Fiware-Service", "smartcity"},
                               {"fiware-servicepath", "/madrid"},
                               {"link", "<http://x/ctx.jsonld>; rel=\"ctx\""}}));
  EXPECT_EQ(Newlines(line), 1);
  const auto doc = nlohmann::json::parse(line);
  EXPECT_EQ(doc["timestamp"], "2026-11-25T06:00:00.123456");
  EXPECT_EQ(doc["Fiware-Service"], "smartcity");
  // Canonical names: fpc.connector.parse looks them up case-sensitively.
  EXPECT_EQ(doc["Fiware-Servicepath"], "/madrid");
  // The old connector replaced '"' in header values with "'".
  EXPECT_EQ(doc["Link"], "<http://x/ctx.jsonld>; rel='ctx'");
  EXPECT_EQ(doc["Body"], nlohmann::json::parse(body));
}

TEST(LineServerTest, FpcTimestampIsNotifiedAtOnlyWhenInTheLastCommaPiece) {
  // The old connector kept the last piece of body.split(",") only.
  const std::string last = R"({"data":[],"notifiedAt":"2024-10-23T10:11:12.345Z"})";
  EXPECT_EQ(nlohmann::json::parse(FormatLine("fpc", RecordWith(last, {})))
                ["timestamp"],
            "2024-10-23T10:11:12.345Z");
  const std::string not_last = R"({"notifiedAt":"2024-10-23T10:11:12.345Z","data":[]})";
  EXPECT_EQ(nlohmann::json::parse(FormatLine("fpc", RecordWith(not_last, {})))
                ["timestamp"],
            "2026-11-25T06:00:00.123456");
}

TEST(LineServerTest, FpcLineKeepsNonJsonBodyAsStringAndEmptyBodyAsObject) {
  auto text = nlohmann::json::parse(
      FormatLine("fpc", RecordWith("temperature is \"23\"\n", {})));
  EXPECT_EQ(text["Body"], "temperature is \"23\"");
  auto empty = nlohmann::json::parse(FormatLine("fpc", RecordWith("", {})));
  EXPECT_TRUE(empty["Body"].is_object() && empty["Body"].empty());
}

TEST(LineServerTest, FpcAndBodyFallBackToEventJsonWithoutRequest) {
  LogRecord record = RecordWith("{}", {});
  record.request = nullptr;
  EXPECT_THAT(FormatLine("fpc", record), HasSubstr("\"sequence\":\"7\""));
  EXPECT_THAT(FormatLine("body", record), Not(HasSubstr("Body")));
}

TEST(LineServerTest, OnlyFpcAndBodyNeedTheRequest) {
  EXPECT_TRUE(LineFormatNeedsRequest("fpc"));
  EXPECT_TRUE(LineFormatNeedsRequest("body"));
  EXPECT_FALSE(LineFormatNeedsRequest("event-json"));
}

}  // namespace
}  // namespace ngsi_bridge::receiver
