#pragma once

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace ngsi_bridge::common {

// absl and gRPC share status codes, so this is the one cast at the RPC edge.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The HTTP status an intake or admin answer uses for `status`:
// kInvalidArgument 400, kResourceExhausted 413 is NOT implied (callers pick
// 413 themselves), kUnavailable 503, kNotFound 404, OK 200, else 500.
int HttpStatusFor(const absl::Status& status);

}  // namespace ngsi_bridge::common
