#include "common/security_flags.h"

namespace ngsi_bridge::common {
namespace {

template <typename T, typename Field>
void Read(const absl::Flag<T>* flag, Field& field) {
  if (flag != nullptr) field = absl::GetFlag(*flag);
}

}  // namespace

GrpcSecurityConfig GrpcSecurityConfigFromFlags(const GrpcSecurityFlags& flags) {
  GrpcSecurityConfig config;
  Read(flags.tls_cert, config.tls_cert);
  Read(flags.tls_key, config.tls_key);
  Read(flags.tls_client_ca, config.tls_client_ca);
  Read(flags.tls_refresh_seconds, config.tls_refresh_seconds);
  Read(flags.auth_token_file, config.auth_token_file);
  Read(flags.jwt_key_file, config.jwt_key_file);
  Read(flags.jwt_algorithm, config.jwt_algorithm);
  Read(flags.jwt_issuer, config.jwt_issuer);
  Read(flags.jwt_audience, config.jwt_audience);
  Read(flags.max_streams_per_client, config.max_streams_per_client);
  return config;
}

}  // namespace ngsi_bridge::common
