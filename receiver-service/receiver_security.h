#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/grpc_security.h"
#include "common/https_server.h"
#include "common/source_networks.h"
#include "receiver-service/notify_guard.h"

namespace ngsi_bridge::receiver {

// The receiver's security settings (flags of the same names).
struct ReceiverSecurityConfig {
  common::GrpcSecurityConfig grpc;  // --tls_*, --auth_token_file, --jwt_*
  bool http_tls = false;  // the notification port serves HTTPS (--tls_cert)
  // Notification connections served at once (ElasticThreadPool bound).
  int http_max_connections = 256;
  // Open notification connections allowed from one source address, and in
  // all; more are refused at once (0 = no cap).
  int http_max_connections_per_source = 0;
  int http_max_connections_total = 0;
  std::string notify_secret_header;
  std::string notify_secret_file;
  std::vector<std::string> notify_allow_cidrs;
  // Networks line clients may connect from (empty: any).
  std::vector<std::string> line_allow_cidrs;
};

// Everything the receiver secures its ports with: gRPC credentials,
// authenticator and stream limiter; the notification port's certificate and
// guard. Owned by ReceiverServer; thread-safe.
class ReceiverSecurity {
 public:
  // Loads and checks every file; errors name flags and files, never secrets.
  static absl::StatusOr<std::unique_ptr<ReceiverSecurity>> Create(
      const ReceiverSecurityConfig& config);

  const common::GrpcSecurity& grpc() const { return *grpc_; }
  // Null when the notification port is plain HTTP / unguarded.
  common::ReloadableCertificate* https_certificate() const {
    return https_.get();
  }
  const NotifyGuard* guard() const { return guard_.get(); }
  // Where line clients may connect from (--line_allow_cidrs).
  const common::SourceNetworks& line_sources() const { return line_sources_; }

  // SIGHUP: re-reads the HTTPS certificate, the token file and the
  // notification secret, keeping what fails to load. Never blocks for long.
  void Reload();

 private:
  ReceiverSecurity() = default;

  std::unique_ptr<common::GrpcSecurity> grpc_;
  std::unique_ptr<common::ReloadableCertificate> https_;
  std::unique_ptr<NotifyGuard> guard_;
  common::SourceNetworks line_sources_;
};

}  // namespace ngsi_bridge::receiver
