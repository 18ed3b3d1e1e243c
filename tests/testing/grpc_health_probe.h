#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace ngsi_bridge::testing {

// What grpc.health.v1.Health/Check answers for the whole server at
// `address` ("127.0.0.1:PORT"): "SERVING", "NOT_SERVING", "UNKNOWN", or an
// error. Speaks the protocol by hand (an empty request, a one-field reply)
// because Debian ships no C++ stubs for health.proto.
absl::StatusOr<std::string> CheckGrpcHealth(const std::string& address);

}  // namespace ngsi_bridge::testing
