#include "replier-service/replier_server.h"

#include <chrono>
#include <thread>
#include <utility>

#include "absl/synchronization/notification.h"
#include "common/log.h"

namespace ngsi_bridge::replier {

absl::StatusOr<std::unique_ptr<ReplierServer>> ReplierServer::Create(
    const ReplierConfig& config) {
  if (absl::Status status = config.Validate(); !status.ok()) return status;
  std::unique_ptr<ReplierServer> server(new ReplierServer(config));
  auto writer = BatchWriter::Create(config, &server->metrics_);
  if (!writer.ok()) return writer.status();
  server->writer_ = std::move(*writer);
  server->service_ = std::make_unique<WriteBackService>(
      config, server->writer_.get(), &server->metrics_);
  return server;
}

ReplierServer::ReplierServer(const ReplierConfig& config)
    : config_(config) {}

ReplierServer::~ReplierServer() { Shutdown(); }

void ReplierServer::ReloadCredentials() {
  if (security_) security_->Reload();
  if (admin_) admin_->ReloadToken();
}

int ReplierServer::admin_port() const { return admin_ ? admin_->port() : 0; }

absl::Status ReplierServer::Start() {
  auto security = common::GrpcSecurity::Create(config_.security);
  if (!security.ok()) return security.status();
  security_ = *std::move(security);
  access_ = std::make_unique<WriteAccess>(security_->authenticator(), &config_);
  service_->SetAccess(access_.get());
  writer_->Start();
  auto admin = common::AdminServer::Create(config_.host, config_.admin_port,
                                           &metrics_, [] { return true; });
  if (!admin.ok()) return admin.status();
  admin_ = std::move(*admin);
  if (!config_.admin_token_file.empty()) {
    if (absl::Status status = admin_->RequireToken(config_.admin_token_file);
        !status.ok()) {
      return status;
    }
  }
  if (absl::Status status = admin_->Start(); !status.ok()) return status;

  common::GrpcServerOptions grpc_options;
  grpc_options.host = config_.host;
  grpc_options.port = config_.grpc_port;
  grpc_options.credentials = security_->credentials();
  auto grpc = common::StartGrpcServer(grpc_options, {service_.get()});
  if (!grpc.ok()) return grpc.status();
  grpc_ = std::move(grpc->server);
  grpc_port_ = grpc->port;
  started_ = true;

  common::PrintEventLine({{"event", std::string("listening")},
                          {"service", std::string("ngsi-replier")},
                          {"grpc_port", int64_t{grpc_port_}},
                          {"admin_port", int64_t{admin_->port()}}});
  common::LogInfo("listening", {{"grpc_port", int64_t{grpc_port_}},
                                {"admin_port", int64_t{admin_->port()}},
                                {"brokers", int64_t(config_.brokers.size())}});
  for (const BrokerConfig& broker : config_.brokers) {
    // Name, URL and flavor only: credentials are never logged.
    common::LogInfo("broker configured",
                    {{"broker", broker.name},
                     {"url", broker.url},
                     {"flavor", std::string(broker.flavor == v1::NGSI_LD
                                                ? "ld"
                                                : "v2")},
                     {"credentials", !broker.token.empty() ||
                                         !broker.authorization.empty()}});
  }
  return absl::OkStatus();
}

void ReplierServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (grpc_) {
    // gRPC's Shutdown waits for running calls, whose answers come from the
    // writer's workers; after a grace period the writer fails what is left
    // fast, so the wait is bounded.
    absl::Notification grpc_stopped;
    std::thread hurry([this, &grpc_stopped] {
      if (!grpc_stopped.WaitForNotificationWithTimeout(absl::Seconds(5))) {
        writer_->Shutdown();
      }
    });
    grpc_->Shutdown(std::chrono::system_clock::now() +
                    std::chrono::seconds(5));
    grpc_stopped.Notify();
    hurry.join();
  }
  if (writer_) writer_->Shutdown();
  if (admin_) admin_->Shutdown();
  if (started_) common::LogInfo("stopped");
}

}  // namespace ngsi_bridge::replier
