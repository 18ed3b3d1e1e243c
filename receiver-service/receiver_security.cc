#include "receiver-service/receiver_security.h"

#include <utility>

#include "common/log.h"

namespace ngsi_bridge::receiver {

absl::StatusOr<std::unique_ptr<ReceiverSecurity>> ReceiverSecurity::Create(
    const ReceiverSecurityConfig& config) {
  if (config.http_max_connections < 0) {
    return absl::InvalidArgumentError(
        "--http_max_connections must be >= 0 (0: a fixed pool of "
        "--http_threads)");
  }
  if (config.http_max_connections_per_source < 0 ||
      config.http_max_connections_total < 0) {
    return absl::InvalidArgumentError(
        "--http_max_connections_per_source and --http_max_connections_total "
        "must be >= 0 (0: no cap)");
  }
  std::unique_ptr<ReceiverSecurity> security(new ReceiverSecurity());
  auto grpc = common::GrpcSecurity::Create(config.grpc);
  if (!grpc.ok()) return grpc.status();
  security->grpc_ = *std::move(grpc);
  if (config.http_tls) {
    if (!config.grpc.tls_enabled()) {
      return absl::InvalidArgumentError(
          "--http_tls needs --tls_cert and --tls_key");
    }
    auto certificate = common::ReloadableCertificate::Create(
        config.grpc.tls_cert, config.grpc.tls_key);
    if (!certificate.ok()) return certificate.status();
    security->https_ = *std::move(certificate);
  }
  auto line_sources = common::SourceNetworks::Parse(config.line_allow_cidrs,
                                                    "line_allow_cidrs");
  if (!line_sources.ok()) return line_sources.status();
  security->line_sources_ = *std::move(line_sources);
  if (!config.notify_secret_header.empty() ||
      !config.notify_secret_file.empty() ||
      !config.notify_allow_cidrs.empty()) {
    NotifyGuard::Options options;
    options.secret_header = config.notify_secret_header;
    options.secret_file = config.notify_secret_file;
    options.allow_cidrs = config.notify_allow_cidrs;
    auto guard = NotifyGuard::Create(options);
    if (!guard.ok()) return guard.status();
    security->guard_ = *std::move(guard);
  }
  return security;
}

void ReceiverSecurity::Reload() {
  grpc_->Reload();
  if (https_ != nullptr) {
    if (absl::Status status = https_->Reload(); status.ok()) {
      common::LogInfo("https certificate reloaded");
    } else {
      common::LogWarning("https certificate not reloaded; keeping the "
                         "previous one",
                         {{"error", std::string(status.message())}});
    }
  }
  if (guard_ != nullptr) {
    if (absl::Status status = guard_->Reload(); !status.ok()) {
      common::LogWarning("notification secret not reloaded; keeping the "
                         "previous one",
                         {{"error", std::string(status.message())}});
    }
  }
}

}  // namespace ngsi_bridge::receiver
