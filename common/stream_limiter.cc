#include "common/stream_limiter.h"

#include "absl/strings/str_cat.h"

namespace ngsi_bridge::common {

absl::StatusOr<std::shared_ptr<void>> StreamLimiter::Acquire(
    const std::string& key) {
  {
    absl::MutexLock lock(&mu_);
    int& count = active_[key];
    if (max_per_key_ > 0 && count >= max_per_key_) {
      if (count == 0) active_.erase(key);
      return absl::ResourceExhaustedError(absl::StrCat(
          "client '", key, "' already has ", max_per_key_,
          " open streams (--max_streams_per_client)"));
    }
    ++count;
  }
  // The deleter frees the slot; the pointee is only a token.
  return std::shared_ptr<void>(
      nullptr, [this, key](void*) { Release(key); });
}

void StreamLimiter::Release(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto it = active_.find(key);
  if (it == active_.end()) return;
  if (--it->second <= 0) active_.erase(it);
}

int StreamLimiter::active(const std::string& key) const {
  absl::MutexLock lock(&mu_);
  auto it = active_.find(key);
  return it == active_.end() ? 0 : it->second;
}

std::string PeerHost(const std::string& peer) {
  const size_t colon = peer.rfind(':');
  if (colon == std::string::npos || colon < peer.find(':') + 1) return peer;
  return peer.substr(0, colon);
}

}  // namespace ngsi_bridge::common
