#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/source_networks.h"
#include "receiver-service/notification_handler.h"
#include "receiver-service/notification_parser.h"

namespace ngsi_bridge::receiver {

// Gatekeeper of the notification endpoint: the source address must be in
// one of the allowed networks (when any are given) and the request must
// carry the shared-secret header (when configured), compared in constant
// time. Orion subscriptions add such a header via "httpCustom.headers".
// Owned by ReceiverServer; thread-safe (Reload() swaps the secret).
class NotifyGuard {
 public:
  struct Options {
    std::string secret_header;  // "" = no secret checked
    std::string secret_file;    // the secret (trailing newline ignored)
    std::vector<std::string> allow_cidrs;  // empty = any source
  };

  // kInvalidArgument for a bad CIDR, a header without a secret file (or
  // the reverse), an empty secret; kNotFound for an unreadable file. Errors
  // never quote the secret.
  static absl::StatusOr<std::unique_ptr<NotifyGuard>> Create(
      const Options& options);

  // nullopt when `request` from `remote_addr` may be handled, its secret
  // header then removed (so it never reaches events, lines or logs); else
  // the answer: 403 for a source outside the allowed networks, 401 for a
  // missing or wrong secret (the answer never says which was wrong).
  std::optional<HttpAnswer> Admit(absl::string_view remote_addr,
                                  NotificationRequest& request) const;

  // Re-reads the secret file (SIGHUP); on error keeps the previous secret.
  absl::Status Reload();

 private:
  explicit NotifyGuard(const Options& options) : options_(options) {}

  const Options options_;
  common::SourceNetworks networks_;
  mutable absl::Mutex mu_;
  std::string secret_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ngsi_bridge::receiver
