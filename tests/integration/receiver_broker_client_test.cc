// HttpBrokerTransport (the receiver's calls to brokers for subscriptions and
// backfill) against an in-process fake broker on 127.0.0.1: which calls are
// retried, and how often.

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "receiver-service/broker_client.h"
#include "tests/testing/fake_broker.h"
#include "tests/testing/unreliable_brokers.h"

namespace ngsi_bridge::receiver {
namespace {

using testing::FakeBroker;
using testing::HangUpServer;
using testing::RefusingPort;

// A policy that records the waits instead of sleeping.
BrokerRetryPolicy CountingPolicy(std::vector<absl::Duration>* waits) {
  BrokerRetryPolicy policy;
  policy.max_attempts = 3;
  policy.initial_backoff = absl::Milliseconds(100);
  policy.max_backoff = absl::Milliseconds(150);
  policy.sleep = [waits](absl::Duration wait) { waits->push_back(wait); };
  return policy;
}

BrokerRequest Request(const std::string& method) {
  BrokerRequest request;
  request.method = method;
  request.path = "/v2/subscriptions";
  if (method == "POST" || method == "PATCH") {
    request.content_type = "application/json";
    request.body = "{}";
  }
  return request;
}

TEST(HttpBrokerTransportTest, IdempotentCallsRetry5xxUntilAnswered) {
  std::atomic<int> calls{0};
  auto broker = FakeBroker::Start([&calls](const FakeBroker::Request&) {
    FakeBroker::Answer answer;
    answer.status = ++calls <= 2 ? 503 : 200;
    answer.body = "[]";
    return answer;
  });
  ASSERT_TRUE(broker.ok()) << broker.status();
  for (const std::string method : {"GET", "PATCH", "DELETE"}) {
    calls = 0;
    std::vector<absl::Duration> waits;
    HttpBrokerTransport transport(absl::Seconds(5), CountingPolicy(&waits));
    absl::StatusOr<BrokerResponse> response =
        transport.Send((*broker)->url(), Request(method));
    ASSERT_TRUE(response.ok()) << method << ": " << response.status();
    EXPECT_EQ(response->status, 200) << method;
    EXPECT_EQ(calls, 3) << method;
    ASSERT_EQ(waits.size(), 2u) << method;
    for (const absl::Duration wait : waits) {
      EXPECT_GE(wait, absl::ZeroDuration());
      EXPECT_LE(wait, absl::Milliseconds(150));  // capped by max_backoff
    }
  }
}

TEST(HttpBrokerTransportTest, AttemptsAreBoundedAndTheLastAnswerReturned) {
  std::atomic<int> calls{0};
  auto broker = FakeBroker::Start([&calls](const FakeBroker::Request&) {
    ++calls;
    FakeBroker::Answer answer;
    answer.status = 500;
    answer.body = R"({"error":"InternalServerError"})";
    return answer;
  });
  ASSERT_TRUE(broker.ok()) << broker.status();
  std::vector<absl::Duration> waits;
  HttpBrokerTransport transport(absl::Seconds(5), CountingPolicy(&waits));
  absl::StatusOr<BrokerResponse> response =
      transport.Send((*broker)->url(), Request("GET"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 500);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(waits.size(), 2u);
}

TEST(HttpBrokerTransportTest, PostIsNotRetriedOn5xxNorOn4xxAnywhere) {
  std::atomic<int> calls{0};
  int status = 503;
  auto broker = FakeBroker::Start([&](const FakeBroker::Request&) {
    ++calls;
    FakeBroker::Answer answer;
    answer.status = status;
    return answer;
  });
  ASSERT_TRUE(broker.ok()) << broker.status();
  std::vector<absl::Duration> waits;
  HttpBrokerTransport transport(absl::Seconds(5), CountingPolicy(&waits));
  // A 503 to a POST may still have created the subscription.
  absl::StatusOr<BrokerResponse> response =
      transport.Send((*broker)->url(), Request("POST"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(calls, 1);
  // A 4xx is an answer to act on, never retried.
  status = 404;
  calls = 0;
  response = transport.Send((*broker)->url(), Request("GET"));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(waits.empty());
}

TEST(HttpBrokerTransportTest, ConnectFailuresAreRetriedForEveryMethod) {
  const std::string url = absl::StrCat("http://127.0.0.1:", RefusingPort());
  for (const std::string method : {"POST", "GET"}) {
    std::vector<absl::Duration> waits;
    HttpBrokerTransport transport(absl::Seconds(5), CountingPolicy(&waits));
    absl::StatusOr<BrokerResponse> response =
        transport.Send(url, Request(method));
    EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable)
        << method;
    EXPECT_EQ(waits.size(), 2u) << method;  // nothing was sent: safe
  }
}

TEST(HttpBrokerTransportTest, LostAnswerRetriesIdempotentCallsOnly) {
  HangUpServer server;
  std::vector<absl::Duration> waits;
  HttpBrokerTransport transport(absl::Seconds(5), CountingPolicy(&waits));
  // The POST reached the broker: a second one could create a duplicate.
  EXPECT_EQ(transport.Send(server.url(), Request("POST")).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(server.accepted(), 1);
  EXPECT_TRUE(waits.empty());
  EXPECT_EQ(transport.Send(server.url(), Request("GET")).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(server.accepted(), 4);
  EXPECT_EQ(waits.size(), 2u);
}

TEST(HttpBrokerTransportTest, BadUrlIsNotRetried) {
  std::vector<absl::Duration> waits;
  HttpBrokerTransport transport(absl::Seconds(5), CountingPolicy(&waits));
  EXPECT_EQ(transport.Send("orion:1026", Request("GET")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(waits.empty());
}

TEST(HttpBrokerTransportTest, IdempotentMethods) {
  for (const char* method : {"GET", "HEAD", "PUT", "PATCH", "DELETE", "get"}) {
    EXPECT_TRUE(IsIdempotentMethod(method)) << method;
  }
  EXPECT_FALSE(IsIdempotentMethod("POST"));
}

}  // namespace
}  // namespace ngsi_bridge::receiver
