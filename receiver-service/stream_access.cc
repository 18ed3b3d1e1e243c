#include "receiver-service/stream_access.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace ngsi_bridge::receiver {

absl::Status AdmitSubscriber(const common::GrpcAuthenticator* auth,
                             common::StreamLimiter* limiter,
                             const grpc::CallbackServerContext& context,
                             const v1::EventFilter& filter,
                             StreamGrant& grant) {
  std::string client = common::PeerHost(context.peer());
  grant.tenants.clear();
  if (auth != nullptr) {
    absl::StatusOr<common::Principal> principal = auth->Authenticate(context);
    if (!principal.ok()) return principal.status();
    if (!filter.service().empty()) {
      if (absl::Status status = principal->CheckRead(filter.service());
          !status.ok()) {
        return status;
      }
    } else if (!principal->can_read) {
      return principal->CheckRead("");
    }
    if (principal->tenants.empty()) {
      return absl::PermissionDeniedError(absl::StrCat(
          "principal '", principal->name, "' is granted no tenant"));
    }
    if (!principal->AllowsAllTenants()) grant.tenants = principal->tenants;
    client = principal->name;
  }
  if (limiter != nullptr) {
    absl::StatusOr<std::shared_ptr<void>> lease = limiter->Acquire(client);
    if (!lease.ok()) return lease.status();
    grant.lease = *std::move(lease);
  }
  return absl::OkStatus();
}

absl::Status AdmitReader(const common::GrpcAuthenticator* auth,
                         const grpc::CallbackServerContext& context) {
  if (auth == nullptr) return absl::OkStatus();
  return auth->Authenticate(context).status();
}

}  // namespace ngsi_bridge::receiver
