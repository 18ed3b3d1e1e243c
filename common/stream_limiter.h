#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace ngsi_bridge::common {

// Bounds concurrent streams per client key (a principal, or the peer
// address when calls are anonymous). Acquire() hands out a lease; the stream
// holds it and dropping it frees the slot. Owned by a service; leases must
// not outlive it. Thread-safe.
class StreamLimiter {
 public:
  // `max_per_key` 0 = unlimited.
  explicit StreamLimiter(int max_per_key) : max_per_key_(max_per_key) {}

  // A lease for one more stream of `key`; kResourceExhausted naming the key
  // and the limit when it already holds max_per_key streams. Never blocks.
  absl::StatusOr<std::shared_ptr<void>> Acquire(const std::string& key);

  int active(const std::string& key) const;

 private:
  void Release(const std::string& key);

  const int max_per_key_;
  mutable absl::Mutex mu_;
  std::map<std::string, int> active_ ABSL_GUARDED_BY(mu_);
};

// The peer's address without the port ("ipv4:127.0.0.1:5555" →
// "ipv4:127.0.0.1"), the key of anonymous callers.
std::string PeerHost(const std::string& peer);

}  // namespace ngsi_bridge::common
