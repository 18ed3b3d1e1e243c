#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/connection_gate.h"
#include "common/http_message.h"
#include "common/http_request_parser.h"
#include "common/http_server_setup.h"
#include "common/metrics.h"

namespace ngsi_bridge::common {

// A plain-HTTP/1.1 server built like nginx: a few event loops (epoll, one
// per core by default) each serve many non-blocking keep-alive connections,
// so an open connection costs a buffer, not a thread, and a busy loop reads,
// parses and answers every request that arrived in one wake-up (pipelined
// answers go out in one write). An accept thread admits connections through
// a ConnectionGate and deals them round-robin to the loops.
//
// The handler runs on a loop thread, inline: it must be CPU-bound work that
// never waits long (a handler that blocks stalls every connection of its
// loop; a server whose handler waits on a disk should use more loops or
// another server). Answers the server gives itself (malformed request 400,
// 408 a request not complete within read_timeout_seconds, 413 over
// max_body_bytes, 431, 501, 505) come from `on_error`, and the connection is
// then closed. It answers "100 Continue" to "Expect: 100-continue", closes
// connections idle for keep_alive_timeout_seconds, after
// keep_alive_max_count requests, or whose client reads nothing for
// write_timeout_seconds, and stops reading a connection while its answers
// are unsent. No TLS. Thread-safe after Start(); owned by its user, which
// keeps `metrics` (may be null) alive.
class EventLoopHttpServer {
 public:
  struct Options {
    int loops = 0;  // event-loop threads; 0 = one per core
    HttpParseLimits limits;
    // keep_alive_max_count, the timeouts and listen_backlog apply; the
    // worker counts and worker_nice do not. The loops run at the process's
    // priority: worker_nice exists because many pool workers together
    // outweigh the threads that deliver events, while one loop per core
    // weighs like one of them; lowered too, the receiver's loops lost a
    // third of their intake to the other processes and their p99 at
    // 10 000/s doubled (bench/run A/B, docs/performance.md).
    HttpServerTuning tuning;
    ConnectionGate::Options gate;
  };
  using Handler = std::function<HttpResponse(HttpRequest& request)>;
  using ErrorHandler =
      std::function<HttpResponse(int status, absl::string_view description)>;

  EventLoopHttpServer(const Options& options, Handler handler,
                      ErrorHandler on_error, MetricsRegistry* metrics);
  ~EventLoopHttpServer();

  // Binds host:port (0 picks one; exclusively, no SO_REUSEPORT), starts the
  // loops and the accept thread, and returns the bound port. kUnavailable
  // when the port cannot be bound, kInternal when epoll cannot be set up.
  // Call once.
  absl::StatusOr<int> Start(const std::string& host, int port);
  // Stops accepting and reading; requests being handled finish and answers
  // already made are sent (for up to a second), then every connection is
  // closed and the threads joined. A request not yet complete gets no
  // answer: its sender retries. Idempotent.
  void Shutdown();

  uint64_t refused_count() const { return gate_.refused_count(); }
  const ConnectionLimiter& limiter() const { return gate_.limiter(); }

 private:
  class Loop;

  void AcceptUntilStopped();

  const Options options_;
  const Handler handler_;
  const ErrorHandler on_error_;
  ConnectionGate gate_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;  // eventfd: wakes the accept thread on Shutdown()
  std::vector<std::unique_ptr<Loop>> loops_;
  std::vector<std::thread> loop_threads_;
  std::thread accept_thread_;
  std::atomic<bool> stopped_{false};
};

// The status line's reason phrase for `status` ("" when unknown).
absl::string_view HttpReasonPhrase(int status);

// `response` as HTTP/1.1 bytes, appended to `out`: its headers but any
// Content-Length or Connection of its own, Content-Type and Content-Length
// (none on a 204), "Connection: close" when `close`, "Connection:
// keep-alive" when keeping an HTTP/1.0 connection, and the body unless
// `head_only` (a HEAD request).
void AppendHttpResponse(const HttpResponse& response, bool close,
                        bool http10, bool head_only, std::string& out);

}  // namespace ngsi_bridge::common
