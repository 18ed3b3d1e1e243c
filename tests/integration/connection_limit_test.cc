// common::LimitedHttpServer in front of a real httplib::Server on
// 127.0.0.1: connections over a cap are refused at once (503 + close on
// plain HTTP), others are served, and a closed connection frees its slot.
// Sources differ by binding the client to 127.0.0.2 (all of 127/8 is
// loopback on Linux).
#include "common/limited_http_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/metrics.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/testing/tcp_client.h"

namespace ngsi_bridge::common {
namespace {

// Everything the server sends until it closes (or the 20 s timeout).
std::string ReadAll(int fd) {
  std::string out;
  char buffer[4096];
  for (;;) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) return out;
    out.append(buffer, static_cast<size_t>(n));
  }
}

// Sends one GET /hello with Connection: close and returns the answer.
std::string Get(int fd) {
  const std::string request =
      "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return "";
  }
  return ReadAll(fd);
}

// Polls `done` for up to 20 s: the accept thread counts a connection a
// moment after connect() returned in the client.
bool WaitFor(const std::function<bool()>& done) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

class ConnectionLimitTest : public ::testing::Test {
 protected:
  void Start(int max_per_source, int max_total, bool answer_503 = true) {
    http_.Get("/hello", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("hello", "text/plain");
    });
    LimitedHttpServer::Options options;
    options.limits = {max_per_source, max_total};
    options.answer_503 = answer_503;
    options.metric_prefix = "test_http";
    front_ = std::make_unique<LimitedHttpServer>(&http_, options, &metrics_);
    HttpServerTuning tuning;
    tuning.worker_threads = 2;
    tuning.max_worker_threads = 16;
    tuning.keep_alive_timeout_seconds = 2;
    auto port = front_->Start("127.0.0.1", 0, tuning);
    ASSERT_TRUE(port.ok()) << port.status();
    port_ = *port;
  }

  void TearDown() override {
    for (int fd : open_) close(fd);
    if (front_) front_->Shutdown();
  }

  // An idle connection counted by the server.
  int Hold(const char* source = "127.0.0.1") {
    const int fd = testing::ConnectFrom(port_, source);
    EXPECT_GE(fd, 0);
    open_.push_back(fd);
    return fd;
  }

  bool WaitOpen(const char* source, int count) {
    return WaitFor(
        [&] { return front_->limiter().open_from(source) == count; });
  }

  MetricsRegistry metrics_;
  httplib::Server http_;
  std::unique_ptr<LimitedHttpServer> front_;
  int port_ = 0;
  std::vector<int> open_;
};

TEST_F(ConnectionLimitTest, RefusesASourceOverItsCapWith503AndServesOthers) {
  Start(/*max_per_source=*/2, /*max_total=*/0);
  Hold();
  Hold();
  ASSERT_TRUE(WaitOpen("127.0.0.1", 2));

  const int third = testing::ConnectFrom(port_);
  ASSERT_GE(third, 0);
  const std::string refused = ReadAll(third);  // sent without a request
  close(third);
  EXPECT_TRUE(absl::StartsWith(refused, "HTTP/1.1 503")) << refused;
  EXPECT_TRUE(absl::StrContains(refused, "Retry-After: 1")) << refused;
  EXPECT_TRUE(absl::StrContains(refused, "Content-Length:")) << refused;
  EXPECT_EQ(front_->refused_count(), 1u);
  EXPECT_TRUE(absl::StrContains(
      metrics_.Render(),
      "test_http_connections_refused_total{reason=\"source\"} 1"))
      << metrics_.Render();

  // Another source is not held back by this one's cap.
  const int other = testing::ConnectFrom(port_, "127.0.0.2");
  ASSERT_GE(other, 0);
  const std::string answer = Get(other);
  close(other);
  EXPECT_TRUE(absl::StartsWith(answer, "HTTP/1.1 200")) << answer;
  EXPECT_TRUE(absl::StrContains(answer, "hello"));
}

TEST_F(ConnectionLimitTest, AClosedConnectionFreesItsSlot) {
  Start(/*max_per_source=*/1, /*max_total=*/0);
  const int first = Hold();
  ASSERT_TRUE(WaitOpen("127.0.0.1", 1));
  const std::string answer = Get(first);  // served, then closed by both
  EXPECT_TRUE(absl::StartsWith(answer, "HTTP/1.1 200")) << answer;
  ASSERT_TRUE(WaitOpen("127.0.0.1", 0));

  const int second = Hold();
  const std::string again = Get(second);
  EXPECT_TRUE(absl::StartsWith(again, "HTTP/1.1 200")) << again;
  EXPECT_EQ(front_->refused_count(), 0u);
}

TEST_F(ConnectionLimitTest, RefusesOverTheTotalCapWhateverTheSource) {
  Start(/*max_per_source=*/0, /*max_total=*/2);
  Hold("127.0.0.1");
  Hold("127.0.0.2");
  ASSERT_TRUE(WaitFor([&] { return front_->limiter().open_count() == 2; }));
  const int third = testing::ConnectFrom(port_, "127.0.0.3");
  ASSERT_GE(third, 0);
  const std::string refused = ReadAll(third);
  close(third);
  EXPECT_TRUE(absl::StartsWith(refused, "HTTP/1.1 503")) << refused;
  EXPECT_TRUE(absl::StrContains(
      metrics_.Render(),
      "test_http_connections_refused_total{reason=\"total\"} 1"));
}

TEST_F(ConnectionLimitTest, WithoutAnAnswerARefusalIsAClose) {
  // What an HTTPS port does: no handshake is spent on a refused connection.
  Start(/*max_per_source=*/1, /*max_total=*/0, /*answer_503=*/false);
  Hold();
  ASSERT_TRUE(WaitOpen("127.0.0.1", 1));
  const int second = testing::ConnectFrom(port_);
  ASSERT_GE(second, 0);
  EXPECT_EQ(ReadAll(second), "");
  close(second);
  EXPECT_EQ(front_->refused_count(), 1u);
}

TEST_F(ConnectionLimitTest, ManyRefusalsAreAllCounted) {
  Start(/*max_per_source=*/1, /*max_total=*/0);
  Hold();
  ASSERT_TRUE(WaitOpen("127.0.0.1", 1));
  for (int i = 0; i < 20; ++i) {
    const int fd = testing::ConnectFrom(port_);
    ASSERT_GE(fd, 0);
    EXPECT_TRUE(absl::StartsWith(ReadAll(fd), "HTTP/1.1 503"));
    close(fd);
  }
  EXPECT_EQ(front_->refused_count(), 20u);
  EXPECT_EQ(front_->limiter().open_from("127.0.0.1"), 1);
}

}  // namespace
}  // namespace ngsi_bridge::common
