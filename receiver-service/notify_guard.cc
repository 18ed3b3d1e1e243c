#include "receiver-service/notify_guard.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/token_file.h"

namespace ngsi_bridge::receiver {
absl::StatusOr<std::unique_ptr<NotifyGuard>> NotifyGuard::Create(
    const Options& options) {
  if (options.secret_header.empty() != options.secret_file.empty()) {
    return absl::InvalidArgumentError(
        "--notify_secret_header and --notify_secret_file go together");
  }
  std::unique_ptr<NotifyGuard> guard(new NotifyGuard(options));
  auto networks =
      common::SourceNetworks::Parse(options.allow_cidrs, "notify_allow_cidrs");
  if (!networks.ok()) return networks.status();
  guard->networks_ = *std::move(networks);
  if (absl::Status status = guard->Reload(); !status.ok()) return status;
  return guard;
}

absl::Status NotifyGuard::Reload() {
  if (options_.secret_file.empty()) return absl::OkStatus();
  absl::StatusOr<std::string> secret =
      common::ReadSecretFile(options_.secret_file, "notify_secret_file");
  if (!secret.ok()) return secret.status();
  absl::MutexLock lock(&mu_);
  secret_ = *std::move(secret);
  return absl::OkStatus();
}

std::optional<HttpAnswer> NotifyGuard::Admit(
    absl::string_view remote_addr, NotificationRequest& request) const {
  if (!networks_.Allows(remote_addr)) {
    return ErrorAnswer(403, "Forbidden",
                       absl::StrCat("source address ", remote_addr,
                                    " is not allowed (--notify_allow_cidrs)"));
  }
  if (options_.secret_header.empty()) return std::nullopt;
  bool matched = false;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, value] : request.headers) {
      if (!absl::EqualsIgnoreCase(name, options_.secret_header)) continue;
      // CRYPTO_memcmp's time depends only on the length compared, which is
      // the configured secret's.
      matched = value.size() == secret_.size() &&
                CRYPTO_memcmp(value.data(), secret_.data(), secret_.size()) ==
                    0;
      break;
    }
  }
  if (!matched) {
    return ErrorAnswer(401, "Unauthorized",
                       absl::StrCat("missing or wrong ",
                                    options_.secret_header, " header"));
  }
  request.headers.erase(
      std::remove_if(request.headers.begin(), request.headers.end(),
                     [this](const auto& header) {
                       return absl::EqualsIgnoreCase(header.first,
                                                     options_.secret_header);
                     }),
      request.headers.end());
  return std::nullopt;
}

}  // namespace ngsi_bridge::receiver
