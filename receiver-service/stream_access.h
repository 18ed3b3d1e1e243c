#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/grpc_auth.h"
#include "common/stream_limiter.h"
#include "grpcpp/support/server_callback.h"
#include "ngsi_bridge/v1/receiver.pb.h"

namespace ngsi_bridge::receiver {

// What a Subscribe call was granted: the tenants (Fiware-Service values) it
// may see, empty for every tenant, and the stream slot it holds.
struct StreamGrant {
  std::vector<std::string> tenants;
  std::shared_ptr<void> lease;  // null when streams are not limited
};

// Admits one EventStream.Subscribe call. With `auth`: kUnauthenticated
// without valid credentials; kPermissionDenied without the read right, for a
// filter.service the principal may not read, or when it is granted no tenant
// at all. The grant's tenants then force the service filter, so a subscriber
// never sees another tenant's events. With `limiter`: kResourceExhausted
// beyond the per-client stream limit (the client is the principal, or the
// peer host when calls are anonymous). Either may be null. Never blocks.
absl::Status AdmitSubscriber(const common::GrpcAuthenticator* auth,
                             common::StreamLimiter* limiter,
                             const grpc::CallbackServerContext& context,
                             const v1::EventFilter& filter, StreamGrant& grant);

// kUnauthenticated for a call without valid credentials when `auth` is set.
absl::Status AdmitReader(const common::GrpcAuthenticator* auth,
                         const grpc::CallbackServerContext& context);

}  // namespace ngsi_bridge::receiver
