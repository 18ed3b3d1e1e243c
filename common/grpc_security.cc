#include "common/grpc_security.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace ngsi_bridge::common {

absl::Status GrpcSecurityConfig::Validate() const {
  if (tls_enabled() && tls_key.empty()) {
    return absl::InvalidArgumentError("--tls_cert needs --tls_key");
  }
  if (!tls_enabled() && (!tls_key.empty() || !tls_client_ca.empty())) {
    return absl::InvalidArgumentError(
        "--tls_key and --tls_client_ca need --tls_cert");
  }
  if (tls_refresh_seconds < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls_refresh_seconds must be at least 1, not ",
        tls_refresh_seconds));
  }
  if (!jwt_key_file.empty() && jwt_algorithm != "HS256" &&
      jwt_algorithm != "RS256" && jwt_algorithm != "ES256") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--jwt_algorithm '", jwt_algorithm, "' is not HS256, RS256 or ES256"));
  }
  if (max_streams_per_client < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max_streams_per_client must be >= 0, not ", max_streams_per_client));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<GrpcSecurity>> GrpcSecurity::Create(
    const GrpcSecurityConfig& config) {
  if (absl::Status status = config.Validate(); !status.ok()) return status;
  std::unique_ptr<GrpcSecurity> security(new GrpcSecurity());
  if (config.tls_enabled()) {
    TlsFiles files;
    files.cert_file = config.tls_cert;
    files.key_file = config.tls_key;
    files.client_ca_file = config.tls_client_ca;
    files.refresh_seconds = config.tls_refresh_seconds;
    auto credentials = MakeGrpcServerCredentials(files);
    if (!credentials.ok()) return credentials.status();
    security->credentials_ = *std::move(credentials);
    security->tls_refresh_seconds_ = config.tls_refresh_seconds;
  }
  if (config.auth_enabled()) {
    GrpcAuthOptions options;
    options.token_file = config.auth_token_file;
    if (!config.jwt_key_file.empty()) {
      options.jwt.algorithm = config.jwt_algorithm;
      options.jwt.key_file = config.jwt_key_file;
      options.jwt.issuer = config.jwt_issuer;
      options.jwt.audience = config.jwt_audience;
    }
    auto auth = GrpcAuthenticator::Create(options);
    if (!auth.ok()) return auth.status();
    security->auth_ = *std::move(auth);
  }
  if (config.max_streams_per_client > 0) {
    security->limiter_ =
        std::make_unique<StreamLimiter>(config.max_streams_per_client);
  }
  return security;
}

void GrpcSecurity::Reload() {
  if (auth_ != nullptr) {
    if (absl::Status status = auth_->Reload(); status.ok()) {
      LogInfo("auth token file reloaded");
    } else {
      LogWarning("auth token file not reloaded; keeping the previous one",
                 {{"error", std::string(status.message())}});
    }
  }
  if (credentials_ != nullptr) {
    LogInfo("gRPC TLS files are re-read on their own",
            {{"tls_refresh_seconds", int64_t{tls_refresh_seconds_}}});
  }
}

}  // namespace ngsi_bridge::common
