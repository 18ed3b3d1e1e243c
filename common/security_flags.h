#pragma once

#include <cstdint>
#include <string>

#include "absl/flags/flag.h"
#include "common/grpc_security.h"

namespace ngsi_bridge::common {

// The gRPC security flags of one binary. Each binary defines its own flags
// in main.cc (STYLE: common/ defines none) and points at them here, in this
// order; null for a flag the binary does not have (its config default then
// stays). The flags must outlive the call.
struct GrpcSecurityFlags {
  const absl::Flag<std::string>* tls_cert = nullptr;
  const absl::Flag<std::string>* tls_key = nullptr;
  const absl::Flag<std::string>* tls_client_ca = nullptr;
  const absl::Flag<int32_t>* tls_refresh_seconds = nullptr;
  const absl::Flag<std::string>* auth_token_file = nullptr;
  const absl::Flag<std::string>* jwt_key_file = nullptr;
  const absl::Flag<std::string>* jwt_algorithm = nullptr;
  const absl::Flag<std::string>* jwt_issuer = nullptr;
  const absl::Flag<std::string>* jwt_audience = nullptr;
  const absl::Flag<int32_t>* max_streams_per_client = nullptr;
};

// The config the flags (already parsed, environment twins applied) say:
// each field from the flag of the same name. Not validated: that is
// GrpcSecurityConfig::Validate(), run by GrpcSecurity::Create().
GrpcSecurityConfig GrpcSecurityConfigFromFlags(const GrpcSecurityFlags& flags);

}  // namespace ngsi_bridge::common
