// HttpBrokerTransport (the receiver's calls to brokers for subscriptions and
// backfill) against an in-process fake broker on 127.0.0.1: which calls are
// retried, and how often.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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

namespace ngsi_bridge::receiver {
namespace {

using testing::FakeBroker;

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

// A port on 127.0.0.1 where nothing listens: connections are refused.
int RefusingPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)),
            0);
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

// Accepts connections, reads the request and closes without answering:
// the request was sent, the answer is lost.
class HangUpServer {
 public:
  HangUpServer() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(
        bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(listen(fd_, 8), 0);
    socklen_t length = sizeof(address);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] {
      for (;;) {
        const int client = accept(fd_, nullptr, nullptr);
        if (client < 0) return;  // closed by the destructor
        if (stopping_) {
          close(client);
          return;
        }
        char buffer[4096];
        (void)!read(client, buffer, sizeof(buffer));
        ++accepted_;
        close(client);
      }
    });
  }
  ~HangUpServer() {
    stopping_ = true;
    // Wake accept() with one last connection, then close.
    const int wake = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port_);
    (void)!connect(wake, reinterpret_cast<sockaddr*>(&address),
                   sizeof(address));
    close(wake);
    thread_.join();
    close(fd_);
  }
  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_); }
  int accepted() const { return accepted_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

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
