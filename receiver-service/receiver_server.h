#pragma once

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/admin_server.h"
#include "common/grpc_server.h"
#include "common/metrics.h"
#include "receiver-service/receiver_config.h"

namespace ngsi_bridge::receiver {

// The whole receiver: owns every component (owned by main). Start() binds
// and serves; Shutdown() stops intake, closes the streams and joins.
// Not thread-safe: Start/Shutdown from one thread.
class ReceiverServer {
 public:
  // kInvalidArgument for a bad config.
  static absl::StatusOr<std::unique_ptr<ReceiverServer>> Create(
      const ReceiverConfig& config);
  ~ReceiverServer();

  // Binds every port and starts serving; kUnavailable when a port is taken.
  // Logs the `listening` line with the ports really bound.
  absl::Status Start();
  // Idempotent.
  void Shutdown();

  int grpc_port() const { return grpc_port_; }
  int admin_port() const;

 private:
  explicit ReceiverServer(const ReceiverConfig& config);

  const ReceiverConfig config_;
  common::MetricsRegistry metrics_;
  std::unique_ptr<common::AdminServer> admin_;
  std::unique_ptr<grpc::Server> grpc_;
  int grpc_port_ = 0;
  bool started_ = false;
  bool shut_down_ = false;
};

}  // namespace ngsi_bridge::receiver
