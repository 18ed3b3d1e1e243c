#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/metrics.h"

namespace httplib {
class Server;
}

namespace ngsi_bridge::common {

// What an admin endpoint answers.
struct AdminResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// The operator's HTTP port: /healthz (alive), /readyz (ready to serve:
// `ready()` true), /metrics (Prometheus text of `metrics`), plus endpoints a
// service adds. With RequireToken(), every endpoint but the kubelet probes
// (/healthz, /readyz) wants `Authorization: Bearer <token>`. Owned by the
// service's server object; `metrics` and the callbacks must outlive it.
// Thread-safe after Start().
class AdminServer {
 public:
  static absl::StatusOr<std::unique_ptr<AdminServer>> Create(
      std::string host, int port, const MetricsRegistry* metrics,
      std::function<bool()> ready);
  ~AdminServer();

  // Adds GET `path`. Call before Start().
  void AddEndpoint(absl::string_view path,
                   std::function<AdminResponse()> handler);

  // From now on the token held in `token_file` (--admin_token_file; a
  // trailing newline ignored) is required on every endpoint but /healthz
  // and /readyz; others get 401 with WWW-Authenticate. Only its SHA-256 is
  // kept, compared in constant time. kNotFound / kInvalidArgument naming the
  // file, never the token. Call before Start().
  absl::Status RequireToken(const std::string& token_file);
  // SIGHUP: re-reads the token file (when RequireToken() was called); on
  // error logs and keeps the previous token. Never blocks for long.
  void ReloadToken();

  // Binds (port 0 picks a free port) and serves on a thread of its own.
  // kUnavailable when the port cannot be bound.
  absl::Status Start();
  // The bound port, valid after Start().
  int port() const { return port_; }
  // Stops serving and joins. Idempotent.
  void Shutdown();

 private:
  AdminServer(std::string host, int port, const MetricsRegistry* metrics,
              std::function<bool()> ready);

  const std::string host_;
  int port_;
  const MetricsRegistry* const metrics_;
  const std::function<bool()> ready_;
  absl::Status LoadToken();
  // Whether `authorization` carries the required token (or none is).
  bool Authorized(absl::string_view authorization) const;

  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  std::string token_file_;  // "" = no token required
  mutable absl::Mutex mu_;
  std::string token_sha256_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ngsi_bridge::common
