#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/connection_limiter.h"
#include "common/http_server_setup.h"
#include "common/https_server.h"
#include "common/limited_http_server.h"
#include "common/metrics.h"
#include "receiver-service/notification_handler.h"
#include "receiver-service/notify_guard.h"

namespace httplib {
class Server;
}

namespace ngsi_bridge::receiver {

// The HTTP port brokers notify: POST, PUT, PATCH and DELETE on `path` (any
// path when empty, since subscriptions carry their own path and query) go to
// the NotificationHandler; other methods get 405, bodies over
// `max_body_bytes` 413, always with a JSON body and Content-Length.
// cpp-httplib with the run-time tuning of common::BindHttpServer, behind a
// common::LimitedHttpServer that refuses connections over
// `connection_limits` (per source address, total; counted in
// ngsi_receiver_http_connections_refused_total). Owned by ReceiverServer;
// `handler` and `metrics` (may be null) must outlive it. Thread-safe after
// Start().
class IntakeServer {
 public:
  struct Options {
    std::string host = "0.0.0.0";
    int port = 8061;
    std::string path;  // "" = any
    size_t max_body_bytes = size_t{8} << 20;
    common::HttpServerTuning tuning;
    common::ConnectionLimiter::Options connection_limits;  // 0 = no cap
  };

  IntakeServer(const Options& options, NotificationHandler* handler,
               common::MetricsRegistry* metrics = nullptr);
  ~IntakeServer();

  // Binds (port 0 picks one) and serves on a thread of its own.
  // kUnavailable when the port cannot be bound; kInternal when TLS cannot
  // be set up.
  absl::Status Start();
  int port() const { return port_; }
  // Serves HTTPS with `tls` and checks every notification with `guard`
  // first, each when not null; both must outlive the server. Call before
  // Start().
  void SetSecurity(common::ReloadableCertificate* tls,
                   const NotifyGuard* guard) {
    tls_ = tls;
    guard_ = guard;
  }
  // Stops accepting, lets requests in flight finish, joins. Idempotent.
  void Shutdown();

 private:
  const Options options_;
  NotificationHandler* const handler_;
  common::MetricsRegistry* const metrics_;
  common::ReloadableCertificate* tls_ = nullptr;
  const NotifyGuard* guard_ = nullptr;
  std::unique_ptr<httplib::Server> http_;
  std::unique_ptr<common::LimitedHttpServer> front_;
  int port_ = 0;
};

}  // namespace ngsi_bridge::receiver
