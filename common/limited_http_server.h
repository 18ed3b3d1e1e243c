#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "common/connection_gate.h"
#include "common/http_server_setup.h"
#include "common/metrics.h"

namespace httplib {
class Server;
class TaskQueue;
}  // namespace httplib

namespace ngsi_bridge::common {

// Listens and accepts for an httplib::Server (plain or HTTPS, its routes and
// settings already made) through a ConnectionGate, which refuses connections
// over its caps before a worker, a TLS handshake or a read is spent on them.
// Admitted connections are handed to the worker pool of HttpServerTuning
// and served by `server`.
//
// httplib 0.11 has no accept hook; see the .cc for how the connection's
// socket is reached. Owned by the server that owns `server`; `server` and
// `metrics` (null: no metrics) must outlive it. Thread-safe after Start().
class LimitedHttpServer {
 public:
  using Options = ConnectionGate::Options;

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

  uint64_t refused_count() const { return gate_.refused_count(); }
  const ConnectionLimiter& limiter() const { return gate_.limiter(); }

 private:
  class Acceptor;
  class InlineQueue;

  // On the accept thread: admits `sock` to a worker or refuses it.
  void Dispatch(int sock);

  httplib::Server* const server_;
  ConnectionGate gate_;
  std::unique_ptr<Acceptor> acceptor_;
  httplib::TaskQueue* workers_ = nullptr;  // owned by the InlineQueue
  std::thread thread_;
};

}  // namespace ngsi_bridge::common
