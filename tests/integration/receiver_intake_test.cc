// The notification port's answers: each with Content-Length and a JSON error
// body, and the receiver keeps serving after every one of them.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "receiver-service/receiver_server.h"
#include "tests/testing/local_servers.h"

namespace ngsi_bridge {
namespace {

using ::testing::HasSubstr;
using receiver::ReceiverConfig;
using testing::LocalReceiverConfig;
using testing::StartReceiver;

constexpr char kBody[] =
    R"({"subscriptionId":"6717a1b2c3d4e5f60718293a","data":[{"id":"Room1",)"
    R"("type":"Room","temperature":{"type":"Number","value":23,"metadata":{}}}]})";

const httplib::Headers kNormalized = {{"Ngsiv2-AttrsFormat", "normalized"}};

// The answer's status, with Content-Length checked against the body, and the
// JSON error name when there is a body.
struct Answer {
  int status = -1;
  std::string error;
  std::string description;
  bool has_content_length = false;
};

Answer Check(const httplib::Result& result) {
  Answer answer;
  if (!result) return answer;
  answer.status = result->status;
  answer.has_content_length = result->has_header("Content-Length");
  if (answer.has_content_length) {
    EXPECT_EQ(result->get_header_value("Content-Length"),
              std::to_string(result->body.size()));
  }
  if (!result->body.empty()) {
    EXPECT_THAT(result->get_header_value("Content-Type"),
                HasSubstr("application/json"));
    const auto doc = nlohmann::json::parse(result->body, nullptr, false);
    EXPECT_TRUE(doc.is_object()) << result->body;
    if (doc.is_object()) {
      answer.error = doc.value("error", "");
      answer.description = doc.value("description", "");
    }
  }
  return answer;
}

TEST(ReceiverIntakeTest, ErrorAnswersCarryContentLengthAndServingContinues) {
  ReceiverConfig config = LocalReceiverConfig();
  config.max_body_bytes = 4096;
  config.max_json_depth = 8;
  auto server = StartReceiver(config);
  httplib::Client http("127.0.0.1", server->http_port());

  const Answer ok = Check(http.Post("/any/path?x=1", kNormalized, kBody,
                                    "application/json"));
  EXPECT_EQ(ok.status, 204);

  const Answer too_large = Check(http.Post(
      "/notify", kNormalized, std::string(10000, ' ') + kBody,
      "application/json"));
  EXPECT_EQ(too_large.status, 413);
  EXPECT_TRUE(too_large.has_content_length);
  EXPECT_EQ(too_large.error, "RequestEntityTooLarge");
  EXPECT_THAT(too_large.description, HasSubstr("4096"));

  auto get = http.Get("/notify");
  const Answer not_allowed = Check(get);
  EXPECT_EQ(not_allowed.status, 405);
  EXPECT_TRUE(not_allowed.has_content_length);
  EXPECT_EQ(not_allowed.error, "MethodNotAllowed");
  EXPECT_EQ(get->get_header_value("Allow"), "POST, PUT, PATCH, DELETE");

  for (const std::string& bad :
       {std::string("{\"data\": ["), std::string("\xff\xfe{}"),
        std::string(20, '[') + std::string(20, ']')}) {
    const Answer bad_request =
        Check(http.Post("/notify", kNormalized, bad, "application/json"));
    EXPECT_EQ(bad_request.status, 400) << bad;
    EXPECT_TRUE(bad_request.has_content_length);
    EXPECT_EQ(bad_request.error, "BadRequest");
    EXPECT_FALSE(bad_request.description.empty());
  }

  for (const char* method : {"PUT", "PATCH", "DELETE"}) {
    httplib::Request request;
    request.method = method;
    request.path = "/custom";
    request.headers = {{"Ngsiv2-AttrsFormat", "custom"},
                       {"Content-Type", "text/plain"}};
    request.body = "hello";
    auto result = http.send(request);
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, 204) << method;
  }
  // Still serving, and every accepted request is one sequence.
  EXPECT_EQ(Check(http.Post("/notify", kNormalized, kBody, "application/json"))
                .status,
            204);
  EXPECT_EQ(server->log_for_test().latest_sequence(), 5u);
  const std::string metrics = server->metrics().Render();
  EXPECT_THAT(metrics, HasSubstr("status=\"413\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("status=\"405\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("ngsi_receiver_events_appended_total 5"));
}

TEST(ReceiverIntakeTest, FullLogAnswersServiceUnavailableWithRetryAfter) {
  auto server = StartReceiver(LocalReceiverConfig());
  httplib::Client http("127.0.0.1", server->http_port());
  server->log_for_test().Close();  // what draining does
  auto result = http.Post("/notify", kNormalized, kBody, "application/json");
  const Answer answer = Check(result);
  EXPECT_EQ(answer.status, 503);
  EXPECT_TRUE(answer.has_content_length);
  EXPECT_EQ(answer.error, "ServiceUnavailable");
  EXPECT_EQ(result->get_header_value("Retry-After"), "1");
}

TEST(ReceiverIntakeTest, ConfiguredPathOnlyAcceptsThatPath) {
  ReceiverConfig config = LocalReceiverConfig();
  config.http_path = "/v2/notify";
  auto server = StartReceiver(config);
  httplib::Client http("127.0.0.1", server->http_port());
  EXPECT_EQ(Check(http.Post("/v2/notify?subscriptionId=abc", kNormalized,
                            kBody, "application/json"))
                .status,
            204);
  const Answer elsewhere =
      Check(http.Post("/other", kNormalized, kBody, "application/json"));
  EXPECT_EQ(elsewhere.status, 404);
  EXPECT_EQ(elsewhere.error, "NotFound");
}

TEST(ReceiverIntakeTest, ReadyOnlyOnceEverythingListens) {
  auto server = StartReceiver(LocalReceiverConfig());
  ASSERT_NE(server, nullptr);
  httplib::Client admin("127.0.0.1", server->admin_port());
  auto ready = admin.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_GT(server->http_port(), 0);
  EXPECT_EQ(server->line_ports().size(), 1u);
  server->Shutdown();
}

}  // namespace
}  // namespace ngsi_bridge
