#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/auth_policy.h"
#include "common/jwt_verifier.h"
#include "common/token_file.h"
#include "grpcpp/server_context.h"

namespace ngsi_bridge::common {

struct GrpcAuthOptions {
  std::string token_file;  // "" = no static tokens
  JwtOptions jwt;          // jwt.key_file "" = no JWTs
};

// Authenticates gRPC calls by their "authorization: Bearer <token>"
// metadata: a static token of the token file, else (when configured) a JWT.
// Owned by a server; thread-safe (Reload() swaps the token table under mu_).
class GrpcAuthenticator {
 public:
  // kInvalidArgument when neither a token file nor a JWT key is configured,
  // or they cannot be loaded (errors name files, never secrets).
  static absl::StatusOr<std::unique_ptr<GrpcAuthenticator>> Create(
      const GrpcAuthOptions& options);

  // The caller's principal. kUnauthenticated when the metadata carries no
  // bearer token, an unknown one, or a JWT that fails verification (the
  // message says why: expired at ..., bad signature, ...). Never blocks.
  absl::StatusOr<Principal> Authenticate(
      const grpc::ServerContextBase& context) const;
  // Same for a bare "Bearer ..." header value (tests, other transports).
  absl::StatusOr<Principal> AuthenticateHeader(absl::string_view value,
                                               absl::Time now) const;

  // Re-reads the token file (SIGHUP); on error keeps the previous table.
  absl::Status Reload();

 private:
  explicit GrpcAuthenticator(const GrpcAuthOptions& options);

  const GrpcAuthOptions options_;
  std::unique_ptr<JwtVerifier> jwt_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const TokenTable> tokens_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ngsi_bridge::common
