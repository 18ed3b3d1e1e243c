// BatchWriter::Passthrough against an in-process fake broker on 127.0.0.1:
// which raw calls are retried. A 5xx, a lost answer or a timeout may come
// after the broker applied the call, so only idempotent calls are sent
// again then; a connection that could not be made sent nothing, so any
// call may be retried.

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/metrics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "replier-service/batch_writer.h"
#include "tests/testing/fake_broker.h"
#include "tests/testing/unreliable_brokers.h"

namespace ngsi_bridge::replier {
namespace {

using ::testing::HasSubstr;
using testing::FakeBroker;
using testing::HangUpServer;
using testing::RefusingPort;

class PassthroughRetryTest : public ::testing::Test {
 protected:
  void StartFor(const std::string& url) {
    ReplierConfig config;
    BrokerConfig broker;
    ASSERT_TRUE(ParseBroker(absl::StrCat("orion=", url), broker).ok());
    config.brokers.push_back(broker);
    config.retry.max_attempts = 3;
    config.retry.initial_backoff_ms = 1;
    config.retry.max_backoff_ms = 5;
    auto writer = BatchWriter::Create(config, &metrics_);
    ASSERT_TRUE(writer.ok()) << writer.status();
    writer_ = std::move(*writer);
    writer_->Start();
  }

  // Answers 503 `failures` times, then 200.
  void StartFlaky(int failures) {
    auto broker =
        FakeBroker::Start([this, failures](const FakeBroker::Request&) {
          return ++calls_ <= failures
                     ? FakeBroker::Answer{503, R"({"error":"x"})"}
                     : FakeBroker::Answer{200, "{}"};
        });
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = std::move(*broker);
    StartFor(broker_->url());
  }

  static v1::PassthroughRequest Call(const std::string& method,
                                     const std::string& body = "") {
    v1::PassthroughRequest request;
    request.set_broker("orion");
    request.set_method(method);
    request.set_path("/v2/entities/E1/attrs");
    request.set_body(body);
    return request;
  }

  absl::Time Soon() { return absl::Now() + absl::Seconds(10); }

  std::atomic<int> calls_{0};
  common::MetricsRegistry metrics_;
  std::unique_ptr<FakeBroker> broker_;
  std::unique_ptr<BatchWriter> writer_;
};

TEST_F(PassthroughRetryTest, IdempotentMethodsAreRetriedOn5xx) {
  StartFlaky(2);
  for (const std::string method : {"GET", "PUT", "PATCH", "DELETE"}) {
    calls_ = 0;
    auto response = writer_->Passthrough(
        Call(method, method == "GET" || method == "DELETE"
                         ? ""
                         : R"({"A":{"value":1}})"),
        Soon());
    ASSERT_TRUE(response.ok()) << method << ": " << response.status();
    EXPECT_EQ(response->status(), 200) << method;
    EXPECT_EQ(calls_, 3) << method;
  }
}

TEST_F(PassthroughRetryTest, PostIsNotRetriedOn5xx) {
  StartFlaky(1);
  auto response = writer_->Passthrough(
      Call("POST", R"({"A":{"value":1,"type":"Number"}})"), Soon());
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status(), 503);  // the broker's answer, as is
  EXPECT_EQ(calls_, 1);
}

TEST_F(PassthroughRetryTest, AccumulatingOperatorsAreNotRetriedOn5xx) {
  StartFlaky(1);
  auto response = writer_->Passthrough(
      Call("PATCH", R"({"count":{"value":{"$inc":1}}})"), Soon());
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status(), 503);
  EXPECT_EQ(calls_, 1);
}

TEST_F(PassthroughRetryTest, ConnectFailuresAreRetriedForAnyMethod) {
  StartFor(absl::StrCat("http://127.0.0.1:", RefusingPort()));
  for (const std::string method : {"POST", "GET"}) {
    auto response = writer_->Passthrough(Call(method, "{}"), Soon());
    EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable)
        << method;
    EXPECT_THAT(response.status().message(), HasSubstr("after 3 attempts"))
        << method;
  }
}

TEST_F(PassthroughRetryTest, LostAnswerIsRetriedForIdempotentMethodsOnly) {
  HangUpServer server;
  StartFor(server.url());
  auto post = writer_->Passthrough(Call("POST", "{}"), Soon());
  EXPECT_FALSE(post.ok());
  EXPECT_EQ(server.accepted(), 1);  // sent once, never again
  auto get = writer_->Passthrough(Call("GET"), Soon());
  EXPECT_FALSE(get.ok());
  EXPECT_EQ(server.accepted(), 4);
}

TEST(PassthroughIdempotenceTest, MethodsAndBodies) {
  for (const char* method :
       {"GET", "HEAD", "PUT", "PATCH", "DELETE", "patch"}) {
    EXPECT_TRUE(PassthroughIsIdempotent(method, R"({"A":{"value":1}})"))
        << method;
  }
  EXPECT_FALSE(PassthroughIsIdempotent("POST", ""));
  for (const char* op : {"$inc", "$mul", "$push"}) {
    EXPECT_FALSE(PassthroughIsIdempotent(
        "PATCH", absl::StrCat(R"({"A":{"value":{")", op, R"(":1}}})")))
        << op;
  }
  // Operators that set rather than add stay idempotent.
  EXPECT_TRUE(
      PassthroughIsIdempotent("PATCH", R"({"A":{"value":{"$max":3}}})"));
}

}  // namespace
}  // namespace ngsi_bridge::replier
