#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/grpc_auth.h"
#include "common/stream_limiter.h"
#include "common/tls_credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace ngsi_bridge::common {

// The security settings of a gRPC port, shared by both services; filled
// from the --tls_* / --auth_token_file / --jwt_* / --max_streams_per_client
// flags. Plain value type. Secrets live in the files, never here.
struct GrpcSecurityConfig {
  std::string tls_cert;       // "" = plaintext gRPC
  std::string tls_key;
  std::string tls_client_ca;  // "" = no client certificates; else mTLS
  int tls_refresh_seconds = 5;
  std::string auth_token_file;  // "" and no jwt_key_file = no authentication
  std::string jwt_algorithm = "RS256";
  std::string jwt_key_file;
  std::string jwt_issuer;
  std::string jwt_audience;
  int max_streams_per_client = 0;  // 0 = unlimited

  bool tls_enabled() const { return !tls_cert.empty(); }
  bool auth_enabled() const {
    return !auth_token_file.empty() || !jwt_key_file.empty();
  }
  // kInvalidArgument naming the flag when something is off.
  absl::Status Validate() const;
};

// What a gRPC port serves with: credentials (null = insecure), the
// authenticator (null = anonymous) and the stream limiter (null = none).
// Owned by a service's server; thread-safe.
class GrpcSecurity {
 public:
  // Loads and checks every file. Errors name files, never secrets.
  static absl::StatusOr<std::unique_ptr<GrpcSecurity>> Create(
      const GrpcSecurityConfig& config);

  std::shared_ptr<grpc::ServerCredentials> credentials() const {
    return credentials_;
  }
  const GrpcAuthenticator* authenticator() const { return auth_.get(); }
  StreamLimiter* limiter() const { return limiter_.get(); }

  // SIGHUP: re-reads the token file. TLS files are re-read by gRPC itself
  // every tls_refresh_seconds. Logs what it did; never fails the server.
  void Reload();

 private:
  GrpcSecurity() = default;

  std::shared_ptr<grpc::ServerCredentials> credentials_;
  std::unique_ptr<GrpcAuthenticator> auth_;
  std::unique_ptr<StreamLimiter> limiter_;
  int tls_refresh_seconds_ = 0;
};

}  // namespace ngsi_bridge::common
