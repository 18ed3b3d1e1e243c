#pragma once

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/admin_server.h"
#include "common/grpc_server.h"
#include "common/grpc_security.h"
#include "common/metrics.h"
#include "replier-service/batch_writer.h"
#include "replier-service/replier_config.h"
#include "replier-service/write_back_service.h"

namespace ngsi_bridge::replier {

// The whole replier: owns every component (owned by main). Start() binds
// and serves; Shutdown() stops intake, lets running writes finish for a
// grace period, then fails the rest fast and joins.
// Not thread-safe: Start/Shutdown from one thread.
class ReplierServer {
 public:
  // kInvalidArgument for a bad config.
  static absl::StatusOr<std::unique_ptr<ReplierServer>> Create(
      const ReplierConfig& config);
  ~ReplierServer();

  // Binds every port and starts serving; kUnavailable when a port is taken.
  // Logs the `listening` line with the ports really bound.
  absl::Status Start();
  // Idempotent.
  void Shutdown();
  // SIGHUP: re-reads the token file (gRPC re-reads TLS files on its own).
  void ReloadCredentials();

  int grpc_port() const { return grpc_port_; }
  int admin_port() const;
  const common::MetricsRegistry& metrics() const { return metrics_; }

 private:
  explicit ReplierServer(const ReplierConfig& config);

  const ReplierConfig config_;
  common::MetricsRegistry metrics_;
  // Created in Start(); outlives the gRPC server.
  std::unique_ptr<common::GrpcSecurity> security_;
  std::unique_ptr<WriteAccess> access_;
  std::unique_ptr<BatchWriter> writer_;
  std::unique_ptr<WriteBackService> service_;
  std::unique_ptr<common::AdminServer> admin_;
  std::unique_ptr<grpc::Server> grpc_;
  int grpc_port_ = 0;
  bool started_ = false;
  bool shut_down_ = false;
};

}  // namespace ngsi_bridge::replier
