#include "common/grpc_auth.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace ngsi_bridge::common {

GrpcAuthenticator::GrpcAuthenticator(const GrpcAuthOptions& options)
    : options_(options) {}

absl::StatusOr<std::unique_ptr<GrpcAuthenticator>> GrpcAuthenticator::Create(
    const GrpcAuthOptions& options) {
  if (options.token_file.empty() && options.jwt.key_file.empty()) {
    return absl::InvalidArgumentError(
        "authentication needs a token file or a JWT key file");
  }
  std::unique_ptr<GrpcAuthenticator> auth(new GrpcAuthenticator(options));
  if (!options.token_file.empty()) {
    if (absl::Status status = auth->Reload(); !status.ok()) return status;
  }
  if (!options.jwt.key_file.empty()) {
    auto jwt = JwtVerifier::Create(options.jwt);
    if (!jwt.ok()) return jwt.status();
    auth->jwt_ = *std::move(jwt);
  }
  return auth;
}

absl::Status GrpcAuthenticator::Reload() {
  if (options_.token_file.empty()) return absl::OkStatus();
  absl::StatusOr<TokenTable> table = TokenTable::Load(options_.token_file);
  if (!table.ok()) return table.status();
  auto loaded = std::make_shared<const TokenTable>(*std::move(table));
  absl::MutexLock lock(&mu_);
  tokens_ = std::move(loaded);
  return absl::OkStatus();
}

absl::StatusOr<Principal> GrpcAuthenticator::Authenticate(
    const grpc::ServerContextBase& context) const {
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return absl::UnauthenticatedError(
        "missing credentials: send metadata \"authorization: Bearer "
        "<token>\"");
  }
  return AuthenticateHeader(
      absl::string_view(it->second.data(), it->second.size()), absl::Now());
}

absl::StatusOr<Principal> GrpcAuthenticator::AuthenticateHeader(
    absl::string_view value, absl::Time now) const {
  absl::string_view token = absl::StripAsciiWhitespace(value);
  if (!absl::StartsWithIgnoreCase(token, "bearer ")) {
    return absl::UnauthenticatedError(
        "authorization metadata is not \"Bearer <token>\"");
  }
  token = absl::StripAsciiWhitespace(token.substr(7));
  if (token.empty()) return absl::UnauthenticatedError("empty bearer token");
  std::shared_ptr<const TokenTable> tokens;
  {
    absl::MutexLock lock(&mu_);
    tokens = tokens_;
  }
  if (tokens != nullptr) {
    if (std::optional<Principal> principal = tokens->Find(token)) {
      return *std::move(principal);
    }
  }
  // Only a JWT has the shape header.payload.signature.
  if (jwt_ != nullptr && absl::StrContains(token, '.')) {
    return jwt_->Verify(token, now);
  }
  return absl::UnauthenticatedError("invalid bearer token");
}

}  // namespace ngsi_bridge::common
