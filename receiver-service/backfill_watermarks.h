#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace ngsi_bridge::receiver {

// Where a subscription of ours lives: enough to list that broker's
// subscriptions again once the name left the file (--prune_subscriptions).
struct SubscriptionPlacement {
  std::string broker_url;
  std::string flavor;  // "v2" | "ld"
  std::string service;
  bool operator<(const SubscriptionPlacement& other) const {
    return std::tie(broker_url, flavor, service) <
           std::tie(other.broker_url, other.flavor, other.service);
  }
};

// Per declared subscription, the instant up to which the receiver is known
// to hold every change the broker notified: the in-memory log is empty
// after a restart, so this is what the gap backfill after downtime starts
// from. Persisted as JSON in `<state_dir>/subscriptions-state.json`
// (written to a temporary file, then renamed, so a crash leaves the old or
// the new file, never half of one); with no state dir it lives in memory
// only. Owned by SubscriptionReconciler; thread-safe.
class BackfillWatermarks {
 public:
  // Reads `path` when it exists ("" = memory only). kInvalidArgument when
  // the file is not ours; kUnavailable when it cannot be read.
  static absl::StatusOr<std::unique_ptr<BackfillWatermarks>> Open(
      std::string path);

  std::optional<absl::Time> Get(absl::string_view name) const;
  void Set(absl::string_view name, absl::Time watermark);
  // Where `name` lives (persisted with its watermark).
  void SetPlacement(absl::string_view name,
                    const SubscriptionPlacement& placement);
  // Every distinct placement recorded.
  std::vector<SubscriptionPlacement> Placements() const;
  // Drops what is known of `name` (it was deleted at its broker).
  void Forget(absl::string_view name);
  // Writes the file (no-op without a path). kUnavailable naming the path
  // when it cannot be written. Blocks on I/O.
  absl::Status Save() const;

  const std::string& path() const { return path_; }

 private:
  explicit BackfillWatermarks(std::string path) : path_(std::move(path)) {}

  const std::string path_;
  mutable absl::Mutex mu_;
  std::map<std::string, absl::Time, std::less<>> watermarks_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, SubscriptionPlacement, std::less<>> placements_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace ngsi_bridge::receiver
