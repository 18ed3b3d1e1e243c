#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/connection_limiter.h"
#include "common/metrics.h"

namespace ngsi_bridge::common {

// The door of a listener: admits an accepted connection under a
// ConnectionLimiter's caps (per source address, total) or refuses it at
// once, before a worker, a TLS handshake or a read is spent on it. A refused
// connection gets, when `answer_503`, a canned 503 with Retry-After written
// without blocking, and is closed. Refusals are counted in
// `<metric_prefix>_connections_refused_total{reason=source|total}` and
// logged at most once per `log_interval` (with the count since the last
// line), never once per connection; admitted ones in
// `<metric_prefix>_connections_open`. Used by the HTTP servers' accept
// loops (LimitedHttpServer, EventLoopHttpServer). `metrics` (null: none)
// must outlive it. Thread-safe.
class ConnectionGate {
 public:
  struct Options {
    ConnectionLimiter::Options limits;  // 0 = no cap
    bool answer_503 = true;  // false for TLS: a refusal is then a close
    std::string metric_prefix = "http";
    absl::Duration log_interval = absl::Seconds(10);
  };

  ConnectionGate(const Options& options, MetricsRegistry* metrics);

  // Admits `sock` and returns true with its source address in `source`
  // (pass it to Release() when the connection closes), or refuses it:
  // answers, closes `sock` and returns false. Never blocks.
  bool Admit(int sock, std::string& source);
  // Ends a connection Admit() let in.
  void Release(const std::string& source);

  uint64_t refused_count() const;
  const ConnectionLimiter& limiter() const { return limiter_; }

 private:
  void Refuse(int sock, ConnectionLimiter::Verdict verdict,
              const std::string& source);

  const Options options_;
  ConnectionLimiter limiter_;
  Counter* refused_source_ = nullptr;
  Counter* refused_total_ = nullptr;
  Gauge* open_ = nullptr;

  mutable absl::Mutex mu_;
  uint64_t refused_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t refused_unlogged_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time next_log_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// What the per-source connection cap counts by: an IPv4 address (an
// IPv4-mapped IPv6 one included) as itself, an IPv6 address by its /64
// ("2001:db8:1:2::/64"), since one host usually holds a whole /64 and could
// otherwise open a cap's worth of connections from each of its addresses;
// "unknown" for another family.
std::string SourceOf(const sockaddr_storage& peer);
// SourceOf() the peer of a connected socket ("unknown" when it has none).
std::string PeerAddress(int sock);

}  // namespace ngsi_bridge::common
