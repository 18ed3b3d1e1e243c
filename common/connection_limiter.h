#pragma once

#include <functional>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace ngsi_bridge::common {

// Counts the open connections of a listener, in total and per source
// address, and admits one more only under both caps (0 = no cap). What a
// source is, is the caller's choice (an address as text). Plain counting:
// no sockets, no clock. Thread-safe.
class ConnectionLimiter {
 public:
  struct Options {
    int max_per_source = 0;
    int max_total = 0;
  };
  enum class Verdict { kAdmitted, kOverSourceLimit, kOverTotalLimit };

  explicit ConnectionLimiter(const Options& options) : options_(options) {}

  // kAdmitted counts the connection until Release(source); the other
  // verdicts count nothing. The per-source cap is checked first.
  Verdict Acquire(absl::string_view source);
  // Ends a connection Acquire() admitted.
  void Release(absl::string_view source);

  int open_count() const;
  int open_from(absl::string_view source) const;

 private:
  const Options options_;
  mutable absl::Mutex mu_;
  int open_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int, std::less<>> per_source_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ngsi_bridge::common
