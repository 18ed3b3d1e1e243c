#include "replier-service/replier_server.h"

#include <utility>

#include "common/log.h"

namespace ngsi_bridge::replier {

absl::StatusOr<std::unique_ptr<ReplierServer>> ReplierServer::Create(
    const ReplierConfig& config) {
  if (absl::Status status = config.Validate(); !status.ok()) return status;
  return std::unique_ptr<ReplierServer>(new ReplierServer(config));
}

ReplierServer::ReplierServer(const ReplierConfig& config)
    : config_(config) {}

ReplierServer::~ReplierServer() { Shutdown(); }

int ReplierServer::admin_port() const { return admin_ ? admin_->port() : 0; }

absl::Status ReplierServer::Start() {
  auto admin = common::AdminServer::Create(config_.host, config_.admin_port,
                                           &metrics_, [] { return true; });
  if (!admin.ok()) return admin.status();
  admin_ = std::move(*admin);
  if (absl::Status status = admin_->Start(); !status.ok()) return status;

  common::GrpcServerOptions grpc_options;
  grpc_options.host = config_.host;
  grpc_options.port = config_.grpc_port;
  auto grpc = common::StartGrpcServer(grpc_options, {});
  if (!grpc.ok()) return grpc.status();
  grpc_ = std::move(grpc->server);
  grpc_port_ = grpc->port;
  started_ = true;

  common::PrintEventLine({{"event", std::string("listening")},
                          {"service", std::string("ngsi-replier")},
                          {"grpc_port", int64_t{grpc_port_}},
                          {"admin_port", int64_t{admin_->port()}}});
  common::LogInfo("listening", {{"grpc_port", int64_t{grpc_port_}},
                                {"admin_port", int64_t{admin_->port()}}});
  return absl::OkStatus();
}

void ReplierServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (grpc_) grpc_->Shutdown();
  if (admin_) admin_->Shutdown();
  if (started_) common::LogInfo("stopped");
}

}  // namespace ngsi_bridge::replier
