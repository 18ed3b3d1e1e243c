#include "receiver-service/notification_handler.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace ngsi_bridge::receiver {
namespace {

using ::testing::HasSubstr;

NotificationRequest Normalized(const std::string& id) {
  NotificationRequest request;
  request.method = "POST";
  request.path = "/notify";
  request.headers = {{"Content-Type", "application/json; charset=utf-8"},
                     {"Ngsiv2-AttrsFormat", "normalized"},
                     {"Fiware-Service", "smartcity"},
                     {"Fiware-ServicePath", "/madrid"}};
  request.body = R"({"subscriptionId":"6717a1b2c3d4e5f60718293a","data":[{"id":")" +
                 id + R"(","type":"Room","temperature":{"type":"Number","value":23.5,"metadata":{}}}]})";
  return request;
}

class NotificationHandlerTest : public ::testing::Test {
 protected:
  EventLog log_{{}};
  EventHub hub_;
  common::MetricsRegistry metrics_;
  NotificationHandler handler_{{}, &log_, &hub_, &metrics_};
};

TEST_F(NotificationHandlerTest, AnswersNoContentOnceTheEventIsInTheLog) {
  const HttpAnswer answer = handler_.Handle(Normalized("Room1"));
  EXPECT_EQ(answer.status, 204);
  EXPECT_TRUE(answer.body.empty());
  auto record = log_.Read(1);
  ASSERT_TRUE(record.ok() && *record != nullptr);
  EXPECT_EQ((*record)->event.entities(0).id(), "Room1");
  EXPECT_EQ((*record)->event.service(), "smartcity");
  EXPECT_EQ((*record)->request, nullptr);  // not kept unless asked
  EXPECT_THAT(metrics_.Render(),
              HasSubstr("ngsi_receiver_notifications_total{format=\"normalized\","
                        "status=\"204\"} 1"));
}

TEST_F(NotificationHandlerTest, MalformedBodyIsBadRequestWithJsonError) {
  NotificationRequest request = Normalized("Room1");
  request.body = "{\"data\": [";
  const HttpAnswer answer = handler_.Handle(request);
  EXPECT_EQ(answer.status, 400);
  EXPECT_EQ(answer.content_type, "application/json");
  const auto body = nlohmann::json::parse(answer.body);
  EXPECT_EQ(body["error"], "BadRequest");
  EXPECT_FALSE(body["description"].get<std::string>().empty());
  EXPECT_EQ(log_.latest_sequence(), 0u);
}

TEST_F(NotificationHandlerTest, ClosedLogIsServiceUnavailableWithRetryAfter) {
  log_.Close();
  const HttpAnswer answer = handler_.Handle(Normalized("Room1"));
  EXPECT_EQ(answer.status, 503);
  EXPECT_THAT(answer.headers,
              ::testing::Contains(std::make_pair(std::string("Retry-After"),
                                                 std::string("1"))));
  EXPECT_EQ(nlohmann::json::parse(answer.body)["error"], "ServiceUnavailable");
}

TEST(NotificationHandlerKeepTest, KeepsTheRequestWhenLineFormatsNeedIt) {
  EventLog log({});
  EventHub hub;
  common::MetricsRegistry metrics;
  NotificationHandler::Options options;
  options.keep_request = true;
  NotificationHandler handler(options, &log, &hub, &metrics);
  ASSERT_EQ(handler.Handle(Normalized("Room1")).status, 204);
  auto record = log.Read(1);
  ASSERT_TRUE(record.ok() && *record != nullptr);
  ASSERT_NE((*record)->request, nullptr);
  EXPECT_THAT((*record)->request->body, HasSubstr("Room1"));
}

}  // namespace
}  // namespace ngsi_bridge::receiver
