#include "common/connection_limiter.h"

namespace ngsi_bridge::common {

ConnectionLimiter::Verdict ConnectionLimiter::Acquire(
    absl::string_view source) {
  absl::MutexLock lock(&mu_);
  auto it = per_source_.find(source);
  const int from_source = it == per_source_.end() ? 0 : it->second;
  if (options_.max_per_source > 0 && from_source >= options_.max_per_source) {
    return Verdict::kOverSourceLimit;
  }
  if (options_.max_total > 0 && open_ >= options_.max_total) {
    return Verdict::kOverTotalLimit;
  }
  ++open_;
  if (it == per_source_.end()) {
    per_source_.emplace(std::string(source), 1);
  } else {
    ++it->second;
  }
  return Verdict::kAdmitted;
}

void ConnectionLimiter::Release(absl::string_view source) {
  absl::MutexLock lock(&mu_);
  auto it = per_source_.find(source);
  if (it == per_source_.end()) return;
  --open_;
  // Erased at zero, so the map holds only sources with open connections.
  if (--it->second == 0) per_source_.erase(it);
}

int ConnectionLimiter::open_count() const {
  absl::MutexLock lock(&mu_);
  return open_;
}

int ConnectionLimiter::open_from(absl::string_view source) const {
  absl::MutexLock lock(&mu_);
  auto it = per_source_.find(source);
  return it == per_source_.end() ? 0 : it->second;
}

}  // namespace ngsi_bridge::common
