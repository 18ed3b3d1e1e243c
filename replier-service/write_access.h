#pragma once

#include "absl/status/status.h"
#include "common/grpc_auth.h"
#include "grpcpp/server_context.h"
#include "ngsi_bridge/v1/replier.pb.h"
#include "replier-service/replier_config.h"

namespace ngsi_bridge::replier {

// Who may write what through the replier. With `auth` null every call is
// allowed (anonymous deployments); otherwise the caller must authenticate
// (kUnauthenticated) and hold the write right on the request's broker and
// tenant (kPermissionDenied) — the tenant being the request's service, or
// the broker's default service when it names none. Nothing is sent to a
// broker for a refused request. Owned by ReplierServer; `auth` and `config`
// must outlive it. Thread-safe; never blocks.
class WriteAccess {
 public:
  WriteAccess(const common::GrpcAuthenticator* auth,
              const ReplierConfig* config)
      : auth_(auth), config_(config) {}

  absl::Status AuthorizeWrite(const grpc::ServerContextBase& context,
                              const v1::WriteRequest& request) const;
  // Every Fiware-Service / NGSILD-Tenant header (any case) must be granted.
  absl::Status AuthorizePassthrough(
      const grpc::ServerContextBase& context,
      const v1::PassthroughRequest& request) const;
  // Any authenticated caller.
  absl::Status AuthorizeList(const grpc::ServerContextBase& context) const;

 private:
  // The broker's default tenant ("" for an unknown broker: BatchWriter
  // rejects that request anyway).
  std::string DefaultTenant(const std::string& broker) const;

  const common::GrpcAuthenticator* const auth_;
  const ReplierConfig* const config_;
};

}  // namespace ngsi_bridge::replier
