// common::EventLoopHttpServer on 127.0.0.1 (port 0) driven by raw sockets:
// keep-alive and pipelining, requests split into single bytes, chunked and
// 100-continue bodies, the answers it gives itself (400, 408, 413, 431) and
// its closes (idle, half-close, keep_alive_max_count, connection caps,
// Shutdown()). The handler answers "<method> <target> <body length>",
// echoes the body on /echo, answers 204 on /empty and on /block holds its
// loop until the test releases it.
#include "common/event_loop_http_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/testing/tcp_client.h"

namespace ngsi_bridge::common {
namespace {

using testing::ConnectFrom;
using testing::HttpReplyReader;
using testing::SendAll;
using testing::WaitFor;

std::string Get(absl::string_view target) {
  return absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: x\r\n\r\n");
}

std::string Post(absl::string_view target, absl::string_view body) {
  return absl::StrCat("POST ", target,
                      " HTTP/1.1\r\nHost: x\r\nContent-Length: ",
                      body.size(), "\r\n\r\n", body);
}

// What the test handler answers to a request without a body.
std::string Echo(absl::string_view method, absl::string_view target) {
  return absl::StrCat(method, " ", target, " 0");
}

EventLoopHttpServer::Options SmallOptions() {
  EventLoopHttpServer::Options options;
  options.loops = 1;
  options.limits.max_header_bytes = 1024;
  options.limits.max_body_bytes = 1024;
  return options;
}

class EventLoopHttpServerTest : public ::testing::Test {
 protected:
  void Start(const EventLoopHttpServer::Options& options = SmallOptions()) {
    server_ = std::make_unique<EventLoopHttpServer>(
        options, [this](HttpRequest& request) { return Handle(request); },
        [](int status, absl::string_view description) {
          HttpResponse response;
          response.status = status;
          response.content_type = "text/plain";
          response.body = absl::StrCat("error ", status, ": ", description);
          return response;
        },
        /*metrics=*/nullptr);
    auto port = server_->Start("127.0.0.1", 0);
    ASSERT_TRUE(port.ok()) << port.status();
    port_ = *port;
  }

  void TearDown() override {
    if (!release_block_.HasBeenNotified()) release_block_.Notify();
    if (server_) server_->Shutdown();
    for (int fd : open_) close(fd);
  }

  // A connection the fixture closes.
  int Connect(const char* source = "127.0.0.1") {
    const int fd = ConnectFrom(port_, source);
    EXPECT_GE(fd, 0) << "cannot connect from " << source;
    if (fd >= 0) open_.push_back(fd);
    return fd;
  }

  HttpResponse Handle(HttpRequest& request) {
    ++calls_;
    if (shutdown_returned_) ++calls_after_shutdown_;
    if (request.target == "/block") {  // stalls the loop until released
      entered_block_.Notify();
      release_block_.WaitForNotification();
    }
    HttpResponse response;
    if (request.target == "/empty") return response;  // 204
    response.status = 200;
    response.content_type = "text/plain";
    response.body = request.target == "/echo"
                        ? request.body
                        : absl::StrCat(request.method, " ", request.target,
                                       " ", request.body.size());
    return response;
  }

  std::unique_ptr<EventLoopHttpServer> server_;
  int port_ = 0;
  std::vector<int> open_;
  std::atomic<int> calls_{0};
  std::atomic<bool> shutdown_returned_{false};
  std::atomic<int> calls_after_shutdown_{0};
  absl::Notification entered_block_;
  absl::Notification release_block_;
};

TEST_F(EventLoopHttpServerTest, AnswersManyRequestsOnOneKeepAliveConnection) {
  Start();
  const int fd = Connect();
  HttpReplyReader reader(fd);
  for (int i = 0; i < 100; ++i) {
    const std::string target = absl::StrCat("/seq/", i);
    ASSERT_TRUE(SendAll(fd, Get(target)));
    auto reply = reader.Next();
    ASSERT_TRUE(reply.ok()) << "request " << i << ": " << reply.status();
    EXPECT_EQ(reply->status, 200);
    EXPECT_EQ(reply->body, Echo("GET", target));
    EXPECT_FALSE(reply->Header("Connection").has_value()) << reply->head;
  }
  EXPECT_EQ(calls_, 100);
  EXPECT_EQ(server_->limiter().open_count(), 1);  // never reconnected
}

TEST_F(EventLoopHttpServerTest, Http10WithoutKeepAliveIsAnsweredThenClosed) {
  Start();
  const int fd = Connect();
  ASSERT_TRUE(SendAll(fd, "GET /old HTTP/1.0\r\n\r\n"));
  HttpReplyReader reader(fd);
  auto reply = reader.Next();
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, Echo("GET", "/old"));
  EXPECT_EQ(reply->Header("Connection"), "close") << reply->head;
  const absl::Status closed = reader.WaitForClose();
  EXPECT_TRUE(closed.ok()) << closed;
}

TEST_F(EventLoopHttpServerTest, Http10WithKeepAliveStaysOpen) {
  Start();
  const int fd = Connect();
  HttpReplyReader reader(fd);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(
        SendAll(fd, "GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    auto reply = reader.Next();
    ASSERT_TRUE(reply.ok()) << "request " << i << ": " << reply.status();
    EXPECT_EQ(reply->Header("Connection"), "keep-alive") << reply->head;
  }
}

TEST_F(EventLoopHttpServerTest, AnswersFiftyPipelinedRequestsInOrder) {
  Start();
  const int fd = Connect();
  std::string requests;
  for (int i = 0; i < 50; ++i) {
    requests += i % 2 == 0 ? Get(absl::StrCat("/p/", i))
                           : Post(absl::StrCat("/p/", i), "body");
  }
  ASSERT_EQ(send(fd, requests.data(), requests.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(requests.size()));
  HttpReplyReader reader(fd);
  for (int i = 0; i < 50; ++i) {
    auto reply = reader.Next();
    ASSERT_TRUE(reply.ok()) << "answer " << i << ": " << reply.status();
    EXPECT_EQ(reply->body,
              i % 2 == 0 ? Echo("GET", absl::StrCat("/p/", i))
                         : absl::StrCat("POST /p/", i, " 4"));
  }
  EXPECT_EQ(calls_, 50);
}

TEST_F(EventLoopHttpServerTest, AnswersARequestSentOneByteAtATime) {
  Start();
  const int fd = Connect();
  const int yes = 1;  // one segment per byte
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
  const std::string request = Post("/echo", "split into single bytes");
  for (char byte : request) {
    ASSERT_EQ(send(fd, &byte, 1, MSG_NOSIGNAL), 1);
    // Only to make the server see many reads; nothing depends on timing.
    std::this_thread::sleep_for(std::chrono::microseconds(300));
  }
  HttpReplyReader reader(fd);
  auto reply = reader.Next();
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "split into single bytes");
  EXPECT_EQ(calls_, 1);
}

TEST_F(EventLoopHttpServerTest, DecodesAChunkedBodyBeforeTheHandler) {
  Start();
  const int fd = Connect();
  ASSERT_TRUE(SendAll(fd,
                      "POST /echo HTTP/1.1\r\nHost: x\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\n"
                      "6;ext=1\r\n, chun\r\n"
                      "A\r\nked world!\r\n"
                      "0\r\nX-Trailer: t\r\n\r\n"));
  HttpReplyReader reader(fd);
  auto reply = reader.Next();
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "hello, chunked world!");
  // The connection stays usable: the chunked framing was consumed exactly.
  ASSERT_TRUE(SendAll(fd, Get("/after")));
  auto next = reader.Next();
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->body, Echo("GET", "/after"));
}

TEST_F(EventLoopHttpServerTest, AnswersExpectContinueBeforeTheBodyIsSent) {
  Start();
  const int fd = Connect();
  ASSERT_TRUE(SendAll(fd,
                      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n"
                      "Expect: 100-continue\r\n\r\n"));
  HttpReplyReader reader(fd);
  // Nothing of the body is sent until the interim answer arrived.
  auto interim = reader.Next();
  ASSERT_TRUE(interim.ok()) << interim.status();
  EXPECT_EQ(interim->head, "HTTP/1.1 100 Continue\r\n");
  ASSERT_TRUE(SendAll(fd, "payload"));
  auto reply = reader.Next();
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "payload");
}

TEST_F(EventLoopHttpServerTest, BodyOverTheLimitGets413ThatTheSenderCanRead) {
  Start();  // max_body_bytes 1024
  const int fd = Connect();
  // Far more than the socket buffers hold: a server that closed at once,
  // without reading what still comes, would fail this send (a reset) and
  // could destroy the answer.
  const std::string body(16 << 20, 'x');
  ASSERT_TRUE(SendAll(fd, absl::StrCat("POST /echo HTTP/1.1\r\nHost: x\r\n"
                                       "Content-Length: ",
                                       body.size(), "\r\n\r\n")));
  EXPECT_TRUE(SendAll(fd, body)) << "send failed: " << std::strerror(errno);
  HttpReplyReader reader(fd);
  auto reply = reader.Next();
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->status, 413);
  EXPECT_TRUE(absl::StartsWith(reply->body, "error 413")) << reply->body;
  EXPECT_EQ(reply->Header("Content-Length"),
            absl::StrCat(reply->body.size()));
  EXPECT_EQ(reply->Header("Connection"), "close") << reply->head;
  const absl::Status closed = reader.WaitForClose();
  EXPECT_TRUE(closed.ok()) << closed;
  EXPECT_EQ(calls_, 0);
}

TEST_F(EventLoopHttpServerTest, ChunkedBodyOverTheLimitGets413) {
  Start();  // max_body_bytes 1024
  const int fd = Connect();
  const std::string chunk(800, 'x');
  ASSERT_TRUE(SendAll(fd, absl::StrCat("POST /echo HTTP/1.1\r\nHost: x\r\n"
                                       "Transfer-Encoding: chunked\r\n\r\n"
                                       "320\r\n",
                                       chunk, "\r\n320\r\n", chunk,
                                       "\r\n0\r\n\r\n")));
  HttpReplyReader reader(fd);
  auto reply = reader.Next();
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->status, 413);
  const absl::Status closed = reader.WaitForClose();
  EXPECT_TRUE(closed.ok()) << closed;
  EXPECT_EQ(calls_, 0);
}

TEST_F(EventLoopHttpServerTest, MalformedRequestGets400AndIsClosed) {
  Start();
  const int fd = Connect();
  ASSERT_TRUE(SendAll(fd, "THIS IS NOT HTTP\r\n\r\n" + Get("/never")));
  HttpReplyReader reader(fd);
  auto reply = reader.Next();
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->status, 400);
  EXPECT_TRUE(absl::StartsWith(reply->body, "error 400")) << reply->body;
  EXPECT_EQ(reply->Header("Content-Length"),
            absl::StrCat(reply->body.size()));
  EXPECT_EQ(reply->Header("Connection"), "close") << reply->head;
  const absl::Status closed = reader.WaitForClose();
  EXPECT_TRUE(closed.ok()) << closed;
  EXPECT_EQ(calls_, 0);  // nothing after the bad request is served
}

TEST_F(EventLoopHttpServerTest, HeadersOverTheLimitGet431) {
  Start();  // max_header_bytes 1024
  const int fd = Connect();
  ASSERT_TRUE(SendAll(fd, absl::StrCat("GET / HTTP/1.1\r\nX-Big: ",
                                       std::string(4096, 'h'), "\r\n\r\n")));
  HttpReplyReader reader(fd);
  auto reply = reader.Next();
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->status, 431);
  EXPECT_TRUE(absl::StartsWith(reply->body, "error 431")) << reply->body;
  const absl::Status closed = reader.WaitForClose();
  EXPECT_TRUE(closed.ok()) << closed;
}

TEST_F(EventLoopHttpServerTest, NoContentHasNoLengthAndABodyHasItsExactLength) {
  Start();
  const int fd = Connect();
  // Pipelined, so that a stray byte after either answer would be read as
  // the start of the next one.
  ASSERT_TRUE(SendAll(fd, Get("/empty") + Post("/echo", "0123456789") +
                              Get("/empty") + Get("/last")));
  HttpReplyReader reader(fd);
  auto empty = reader.Next();
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->status, 204);
  EXPECT_FALSE(empty->Header("Content-Length").has_value()) << empty->head;
  EXPECT_FALSE(empty->Header("Content-Type").has_value()) << empty->head;
  auto full = reader.Next();
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(full->status, 200);
  EXPECT_EQ(full->Header("Content-Length"), "10") << full->head;
  EXPECT_EQ(full->body, "0123456789");
  auto empty_again = reader.Next();
  ASSERT_TRUE(empty_again.ok()) << empty_again.status();
  EXPECT_EQ(empty_again->status, 204);
  auto last = reader.Next();
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->body, Echo("GET", "/last"));
}

TEST_F(EventLoopHttpServerTest, HeadGetsTheHeadersWithContentLengthButNoBody) {
  Start();
  const int fd = Connect();
  ASSERT_TRUE(SendAll(
      fd, "HEAD /thing HTTP/1.1\r\nHost: x\r\n\r\n" + Get("/after-head")));
  HttpReplyReader reader(fd);
  auto head = reader.Next(/*head_request=*/true);
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->Header("Content-Length"),
            absl::StrCat(Echo("HEAD", "/thing").size()))
      << head->head;
  // Had a body been sent, it would sit where this answer's head must be.
  auto next = reader.Next();
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(next->body, Echo("GET", "/after-head"));
}

TEST_F(EventLoopHttpServerTest, ClosesAnIdleKeepAliveConnection) {
  EventLoopHttpServer::Options options = SmallOptions();
  options.tuning.keep_alive_timeout_seconds = 1;
  Start(options);
  const int fd = Connect();
  ASSERT_TRUE(SendAll(fd, Get("/once")));
  HttpReplyReader reader(fd);
  auto reply = reader.Next();
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->status, 200);
  // Bounded by the client's receive timeout (20 s), far above 1 s.
  const absl::Status closed = reader.WaitForClose();
  EXPECT_TRUE(closed.ok()) << closed;
  EXPECT_TRUE(WaitFor([&] { return server_->limiter().open_count() == 0; }));
}

TEST_F(EventLoopHttpServerTest, AnswersAHalfSentRequest408AfterReadTimeout) {
  EventLoopHttpServer::Options options = SmallOptions();
  options.tuning.read_timeout_seconds = 1;
  Start(options);
  const int fd = Connect();
  ASSERT_TRUE(SendAll(
      fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"));
  HttpReplyReader reader(fd);
  auto reply = reader.Next();  // bounded by the 20 s receive timeout
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->status, 408);
  EXPECT_TRUE(absl::StartsWith(reply->body, "error 408")) << reply->body;
  EXPECT_EQ(reply->Header("Connection"), "close") << reply->head;
  const absl::Status closed = reader.WaitForClose();
  EXPECT_TRUE(closed.ok()) << closed;
  EXPECT_EQ(calls_, 0);
}

TEST_F(EventLoopHttpServerTest, AnswersAClientThatHalfClosedAfterItsRequests) {
  EventLoopHttpServer::Options options = SmallOptions();
  options.limits.max_body_bytes = 128 << 10;
  Start(options);  // one loop
  // Hold the loop in a handler so that the requests and the FIN below are
  // all waiting when it reads them: one read-buffer-full (64 KiB) of
  // requests, so that the same Read() goes on to find the end of input.
  const int blocker = Connect();
  ASSERT_TRUE(SendAll(blocker, Get("/block")));
  ASSERT_TRUE(entered_block_.WaitForNotificationWithTimeout(absl::Seconds(20)));

  const int fd = Connect();
  const std::string requests =
      Post("/big", std::string(65452, 'b')) + Get("/too");
  ASSERT_EQ(requests.size(), 65536u);  // the server's read buffer, exactly
  ASSERT_TRUE(SendAll(fd, requests));
  ASSERT_EQ(shutdown(fd, SHUT_WR), 0);
  release_block_.Notify();

  HttpReplyReader blocker_reader(blocker);
  auto unblocked = blocker_reader.Next();
  ASSERT_TRUE(unblocked.ok()) << unblocked.status();
  HttpReplyReader reader(fd);
  auto reply = reader.Next();
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->body, "POST /big 65452");
  auto second = reader.Next();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->body, Echo("GET", "/too"));
  const absl::Status closed = reader.WaitForClose();
  EXPECT_TRUE(closed.ok()) << closed;
}

TEST_F(EventLoopHttpServerTest,
       RefusesASourceOverItsCapWith503AndServesOthers) {
  EventLoopHttpServer::Options options = SmallOptions();
  options.gate.limits.max_per_source = 1;
  Start(options);
  const int first = Connect("127.0.0.1");
  ASSERT_TRUE(WaitFor([&] {
    return server_->limiter().open_from("127.0.0.1") == 1;
  }));

  const int second = Connect("127.0.0.1");
  HttpReplyReader refused_reader(second);
  auto refused = refused_reader.Next();  // sent without a request
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->Header("Retry-After"), "1") << refused->head;
  const absl::Status refused_closed = refused_reader.WaitForClose();
  EXPECT_TRUE(refused_closed.ok()) << refused_closed;
  EXPECT_EQ(server_->refused_count(), 1u);

  // Another source is not held back by this one's cap.
  const int other = Connect("127.0.0.2");
  ASSERT_TRUE(SendAll(other, Get("/other")));
  HttpReplyReader other_reader(other);
  auto served = other_reader.Next();
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_EQ(served->body, Echo("GET", "/other"));

  // Closing the first connection frees its slot.
  ASSERT_EQ(shutdown(first, SHUT_RDWR), 0);
  ASSERT_TRUE(WaitFor([&] {
    return server_->limiter().open_from("127.0.0.1") == 0;
  }));
  const int third = Connect("127.0.0.1");
  ASSERT_TRUE(SendAll(third, Get("/third")));
  HttpReplyReader third_reader(third);
  auto again = third_reader.Next();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->body, Echo("GET", "/third"));
  EXPECT_EQ(server_->refused_count(), 1u);
}

TEST_F(EventLoopHttpServerTest, ServesTwoHundredConnectionsOnTwoLoops) {
  EventLoopHttpServer::Options options = SmallOptions();
  options.loops = 2;
  Start(options);
  constexpr int kConnections = 200;
  constexpr int kClientThreads = 8;
  constexpr int kRounds = 3;
  std::vector<int> fds;
  for (int i = 0; i < kConnections; ++i) {
    const int fd = Connect();
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
  }
  // All of them open at once: a thread per connection would need 200.
  ASSERT_TRUE(
      WaitFor([&] { return server_->limiter().open_count() == kConnections; }));

  std::atomic<int> answered{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kClientThreads; ++t) {
    clients.emplace_back([&, t] {
      std::vector<HttpReplyReader> readers;
      for (int i = t; i < kConnections; i += kClientThreads) {
        readers.emplace_back(fds[i]);
      }
      // Round by round over this thread's connections, so that each one
      // stays open, idle, between its requests.
      for (int round = 0; round < kRounds; ++round) {
        for (int i = t, k = 0; i < kConnections; i += kClientThreads, ++k) {
          const std::string target = absl::StrCat("/c/", i, "/", round);
          if (!SendAll(fds[i], Post(target, "x"))) continue;
          auto reply = readers[k].Next();
          if (reply.ok() &&
              reply->body == absl::StrCat("POST ", target, " 1")) {
            ++answered;
          }
        }
      }
    });
  }
  for (std::thread& client : clients) client.join();
  EXPECT_EQ(answered, kConnections * kRounds);
  EXPECT_EQ(server_->limiter().open_count(), kConnections);
}

TEST_F(EventLoopHttpServerTest, ShutdownClosesConnectionsAndStopsTheHandler) {
  EventLoopHttpServer::Options options = SmallOptions();
  options.loops = 2;
  Start(options);
  // Idle keep-alive connections, each served once.
  std::vector<int> idle;
  for (int i = 0; i < 4; ++i) {
    const int fd = Connect();
    ASSERT_TRUE(SendAll(fd, Get("/idle")));
    HttpReplyReader reader(fd);
    auto reply = reader.Next();
    ASSERT_TRUE(reply.ok()) << reply.status();
    idle.push_back(fd);
  }
  // Busy connections, pipelining requests until the server closes them.
  constexpr int kBusy = 4;
  std::vector<std::thread> busy;
  std::atomic<int> busy_answers{0};
  std::vector<absl::Status> busy_ended(kBusy);  // how each one ended
  for (int i = 0; i < kBusy; ++i) {
    const int fd = Connect();
    busy.emplace_back([fd, &busy_answers, &ended = busy_ended[i]] {
      HttpReplyReader reader(fd);
      const std::string batch = Get("/busy") + Post("/busy", "body") +
                                Get("/empty") + Get("/busy");
      while (SendAll(fd, batch)) {
        for (int k = 0; k < 4; ++k) {
          if (!reader.Next().ok()) {
            // Closed (EOF or reset) with no partial answer left over, not
            // a receive timeout.
            ended = reader.WaitForClose();
            return;
          }
          ++busy_answers;
        }
      }
      ended = reader.WaitForClose();
    });
  }
  ASSERT_TRUE(WaitFor([&] { return busy_answers >= 400; }));

  const auto started = std::chrono::steady_clock::now();
  server_->Shutdown();
  const auto took = std::chrono::steady_clock::now() - started;
  shutdown_returned_ = true;
  // Answers already made get at most a second to go out; far more means
  // Shutdown() waited on a connection.
  EXPECT_LT(took, std::chrono::seconds(5));

  for (std::thread& client : busy) client.join();
  for (const absl::Status& ended : busy_ended) {
    EXPECT_TRUE(ended.ok()) << ended;
  }
  for (int fd : idle) {
    const absl::Status closed = HttpReplyReader(fd).WaitForClose();
    EXPECT_TRUE(closed.ok()) << closed;
  }
  server_->Shutdown();  // again: a no-op
  EXPECT_EQ(calls_after_shutdown_, 0);
  EXPECT_EQ(server_->limiter().open_count(), 0);
}

TEST_F(EventLoopHttpServerTest, ClosesAfterKeepAliveMaxCountRequests) {
  EventLoopHttpServer::Options options = SmallOptions();
  options.tuning.keep_alive_max_count = 3;
  Start(options);
  const int fd = Connect();
  HttpReplyReader reader(fd);
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(SendAll(fd, Get(absl::StrCat("/n/", i))));
    auto reply = reader.Next();
    ASSERT_TRUE(reply.ok()) << "request " << i << ": " << reply.status();
    EXPECT_EQ(reply->body, Echo("GET", absl::StrCat("/n/", i)));
    if (i < 3) {
      EXPECT_FALSE(reply->Header("Connection").has_value()) << reply->head;
    } else {
      EXPECT_EQ(reply->Header("Connection"), "close") << reply->head;
    }
  }
  const absl::Status closed = reader.WaitForClose();
  EXPECT_TRUE(closed.ok()) << closed;
}

}  // namespace
}  // namespace ngsi_bridge::common
