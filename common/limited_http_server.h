#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/connection_limiter.h"
#include "common/http_server_setup.h"
#include "common/metrics.h"

namespace httplib {
class Server;
class TaskQueue;
}  // namespace httplib

namespace ngsi_bridge::common {

// Listens and accepts for an httplib::Server (plain or HTTPS, its routes and
// settings already made) and refuses connections over a ConnectionLimiter's
// caps (per source address, total) before a worker, a TLS handshake or a
// read is spent on them: a refused connection gets, on plain HTTP, a canned
// 503 with Retry-After written without blocking, and is closed. Refusals are
// counted in `<metric_prefix>_connections_refused_total{reason=source|
// total}` and logged at most once per `log_interval` (with the count since
// the last line), never once per connection. Admitted connections are
// handed to the worker pool of HttpServerTuning and served by `server`.
//
// httplib 0.11 has no accept hook; see the .cc for how the connection's
// socket is reached. Owned by the server that owns `server`; `server` and
// `metrics` (null: no metrics) must outlive it. Thread-safe after Start().
class LimitedHttpServer {
 public:
  struct Options {
    ConnectionLimiter::Options limits;  // 0 = no cap
    bool answer_503 = true;  // false for TLS: a refusal is then a close
    std::string metric_prefix = "http";
    absl::Duration log_interval = absl::Seconds(10);
  };

  LimitedHttpServer(httplib::Server* server, const Options& options,
                    MetricsRegistry* metrics);
  ~LimitedHttpServer();

  // Binds host:port (0 picks one) with `tuning` and serves on a thread of
  // its own; returns the bound port. kUnavailable when the port cannot be
  // bound. Call once.
  absl::StatusOr<int> Start(const std::string& host, int port,
                            const HttpServerTuning& tuning);
  // Stops accepting, lets connections in flight finish, joins. Idempotent.
  void Shutdown();

  uint64_t refused_count() const;
  const ConnectionLimiter& limiter() const { return limiter_; }

 private:
  class Acceptor;
  class InlineQueue;

  // On the accept thread: admits `sock` to a worker or refuses it.
  void Dispatch(int sock);
  void Refuse(int sock, ConnectionLimiter::Verdict verdict,
              const std::string& source);

  httplib::Server* const server_;
  const Options options_;
  ConnectionLimiter limiter_;
  Counter* refused_source_ = nullptr;
  Counter* refused_total_ = nullptr;
  Gauge* open_ = nullptr;
  std::unique_ptr<Acceptor> acceptor_;
  httplib::TaskQueue* workers_ = nullptr;  // owned by the InlineQueue
  std::thread thread_;

  mutable absl::Mutex mu_;
  uint64_t refused_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t refused_unlogged_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time next_log_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace ngsi_bridge::common
