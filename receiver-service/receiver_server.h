#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/admin_server.h"
#include "common/grpc_server.h"
#include "common/metrics.h"
#include "receiver-service/consumer_groups.h"
#include "receiver-service/event_hub.h"
#include "receiver-service/event_log.h"
#include "receiver-service/intake_server.h"
#include "receiver-service/line_server.h"
#include "receiver-service/notification_handler.h"
#include "receiver-service/receiver_config.h"
#include "receiver-service/receiver_security.h"
#include "receiver-service/subscribe_reactor.h"
#include "receiver-service/subscription_reconciler.h"
#include "receiver-service/subscription_status.h"

namespace ngsi_bridge::receiver {

// The whole receiver: owns every component (owned by main). Start() binds
// and serves; Shutdown() stops intake, closes the log and the hub (streams
// finish with UNAVAILABLE), then joins every thread.
// Not thread-safe: Start/Shutdown from one thread.
class ReceiverServer {
 public:
  // kInvalidArgument for a bad config.
  static absl::StatusOr<std::unique_ptr<ReceiverServer>> Create(
      const ReceiverConfig& config);
  ~ReceiverServer();

  // Binds every port and starts serving; kUnavailable when a port is taken.
  // Logs the `listening` line with the ports really bound; /readyz answers
  // 200 from then on.
  absl::Status Start();
  // Idempotent.
  void Shutdown();
  // SIGHUP: re-reads certificates, the token file and the notification
  // secret without dropping connections or streams.
  void ReloadCredentials();

  int http_port() const { return intake_ ? intake_->port() : 0; }
  int grpc_port() const { return grpc_port_; }
  int admin_port() const;
  std::vector<int> line_ports() const;

  EventLog& log_for_test() { return *log_; }
  const LineServer& line_server() const { return *line_; }
  const common::MetricsRegistry& metrics() const { return metrics_; }

 private:
  explicit ReceiverServer(const ReceiverConfig& config);
  void RegisterMetricCallbacks();
  void PrintListeningLine() const;

  const ReceiverConfig config_;
  common::MetricsRegistry metrics_;
  // Created in Start(); outlives every server that uses it.
  std::unique_ptr<ReceiverSecurity> security_;
  std::unique_ptr<EventLog> log_;
  std::unique_ptr<EventHub> hub_;
  std::unique_ptr<NotificationHandler> handler_;
  std::unique_ptr<EventStreamService> stream_service_;
  // Before grpc_: outlives the streams that report to it.
  std::unique_ptr<ConsumerGroups> groups_;
  std::unique_ptr<LineServer> line_;
  std::unique_ptr<IntakeServer> intake_;
  std::unique_ptr<common::AdminServer> admin_;
  // Declared broker subscriptions (--subscriptions_file); the reconciler
  // exists only when a file is given.
  absl::Status StartSubscriptions();
  SubscriptionStatusBoard subscription_board_;
  std::unique_ptr<BrokerTransport> broker_transport_;
  std::unique_ptr<SubscriptionReconciler> reconciler_;
  std::unique_ptr<grpc::Server> grpc_;
  int grpc_port_ = 0;
  std::atomic<bool> ready_{false};
  bool started_ = false;
  bool shut_down_ = false;
};

}  // namespace ngsi_bridge::receiver
