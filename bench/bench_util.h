#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace ngsi_bridge::bench {

// CLOCK_MONOTONIC in nanoseconds: one clock for every process on the host,
// so a sender's timestamp can be compared with a consumer's.
int64_t MonoNs();

// CPU seconds (user + system) used by this process so far.
double CpuSeconds();

// The send tag a load generator embeds in each notification and consumers
// read back: "nbt-RRRRRR-SSSSSSSSSSSS-TTTTTTTTTTTTTTTTTTTT" (run id, sequence
// and CLOCK_MONOTONIC send time in ns, fixed width so Content-Length never
// changes).
inline constexpr absl::string_view kTagPrefix = "nbt-";
inline constexpr size_t kTagLength = 4 + 6 + 1 + 12 + 1 + 20;

struct Tag {
  uint32_t run = 0;
  uint64_t seq = 0;
  int64_t sent_ns = 0;
};

// Writes exactly kTagLength characters at `out` (no terminator).
void FormatTag(const Tag& tag, char* out);

// Parses a tag starting at `text` (false when `text` is not one).
bool ParseTag(absl::string_view text, Tag& tag);

// Latency samples (ns) and their summary in microseconds.
struct LatencySummary {
  size_t count = 0;
  double p50_us = 0;
  double p99_us = 0;
  double max_us = 0;
};
LatencySummary Summarize(std::vector<int64_t>& samples_ns);  // sorts

// Counts delivered tags of one run on one stream: unique, duplicates,
// latency. Not thread-safe; one per stream.
class DeliveryCounter {
 public:
  explicit DeliveryCounter(uint32_t run) : run_(run) {}
  // Records a tag received at `now_ns`; ignores other runs' tags.
  void Record(const Tag& tag, int64_t now_ns);
  uint64_t unique() const { return unique_; }
  uint64_t duplicates() const { return duplicates_; }
  uint64_t other_runs() const { return other_runs_; }
  int64_t first_sent_ns() const { return first_sent_ns_; }
  int64_t last_received_ns() const { return last_received_ns_; }
  std::vector<int64_t>& latencies() { return latencies_; }

 private:
  uint32_t run_;
  std::vector<bool> seen_;
  uint64_t unique_ = 0;
  uint64_t duplicates_ = 0;
  uint64_t other_runs_ = 0;
  int64_t first_sent_ns_ = 0;
  int64_t last_received_ns_ = 0;
  std::vector<int64_t> latencies_;
};

// Finds every tag in `text` and records those of the counter's run; returns
// how many tags (of any run) it found.
int RecordTagsIn(absl::string_view text, int64_t now_ns,
                 DeliveryCounter& counter);

}  // namespace ngsi_bridge::bench
