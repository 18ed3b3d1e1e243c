#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/connection_limiter.h"
#include "common/event_loop_http_server.h"
#include "common/http_message.h"
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
// Connections over `connection_limits` (per source address, total) are
// refused at once (counted in ngsi_receiver_http_connections_refused_total).
// Two engines: common::EventLoopHttpServer (plain HTTP; notifications parsed
// on its loop threads) and cpp-httplib with the run-time tuning of
// common::BindHttpServer behind a common::LimitedHttpServer (a thread per
// connection; always used for HTTPS). Owned by ReceiverServer;
// `handler` and `metrics` (may be null) must outlive it. Thread-safe after
// Start().
class IntakeServer {
 public:
  enum class Engine { kEventLoop, kHttplib };
  struct Options {
    Engine engine = Engine::kEventLoop;  // HTTPS always uses kHttplib
    int loops = 0;  // kEventLoop's loop threads; 0 = one per core
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
  // The answer to a request that reached a notification route.
  HttpAnswer Notify(absl::string_view remote_addr, NotificationRequest request);
  // kEventLoop's handler and error handler.
  HttpAnswer Route(common::HttpRequest& req);
  HttpAnswer RouteError(int status, absl::string_view description);
  absl::Status StartEventLoop();

  const Options options_;
  NotificationHandler* const handler_;
  common::MetricsRegistry* const metrics_;
  common::ReloadableCertificate* tls_ = nullptr;
  const NotifyGuard* guard_ = nullptr;
  std::unique_ptr<httplib::Server> http_;
  std::unique_ptr<common::LimitedHttpServer> front_;
  std::unique_ptr<common::EventLoopHttpServer> event_loop_;
  int port_ = 0;
};

}  // namespace ngsi_bridge::receiver
