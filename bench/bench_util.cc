#include "bench/bench_util.h"

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace ngsi_bridge::bench {

int64_t MonoNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

double CpuSeconds() {
  rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

namespace {

// Writes `value` as exactly `width` decimal digits (zero padded).
void WriteDigits(uint64_t value, int width, char* out) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

bool ReadDigits(absl::string_view text, size_t pos, int width,
                uint64_t& value) {
  value = 0;
  for (int i = 0; i < width; ++i) {
    const char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return true;
}

}  // namespace

void FormatTag(const Tag& tag, char* out) {
  std::memcpy(out, kTagPrefix.data(), kTagPrefix.size());
  WriteDigits(tag.run % 1000000, 6, out + 4);
  out[10] = '-';
  WriteDigits(tag.seq, 12, out + 11);
  out[23] = '-';
  WriteDigits(static_cast<uint64_t>(tag.sent_ns), 20, out + 24);
}

bool ParseTag(absl::string_view text, Tag& tag) {
  if (text.size() < kTagLength || text.substr(0, 4) != kTagPrefix) {
    return false;
  }
  uint64_t run, seq, sent;
  if (!ReadDigits(text, 4, 6, run) || text[10] != '-' ||
      !ReadDigits(text, 11, 12, seq) || text[23] != '-' ||
      !ReadDigits(text, 24, 20, sent)) {
    return false;
  }
  tag.run = static_cast<uint32_t>(run);
  tag.seq = seq;
  tag.sent_ns = static_cast<int64_t>(sent);
  return true;
}

LatencySummary Summarize(std::vector<int64_t>& samples_ns) {
  LatencySummary summary;
  summary.count = samples_ns.size();
  if (samples_ns.empty()) return summary;
  std::sort(samples_ns.begin(), samples_ns.end());
  auto at = [&](double q) {
    size_t index = static_cast<size_t>(q * (samples_ns.size() - 1) + 0.5);
    return samples_ns[std::min(index, samples_ns.size() - 1)] / 1000.0;
  };
  summary.p50_us = at(0.50);
  summary.p99_us = at(0.99);
  summary.max_us = samples_ns.back() / 1000.0;
  return summary;
}

void DeliveryCounter::Record(const Tag& tag, int64_t now_ns) {
  if (tag.run != run_ || tag.seq > 1000000000) {
    ++other_runs_;
    return;
  }
  if (tag.seq >= seen_.size()) {
    // Sequences are dense from 0; grow geometrically, bounded by the run.
    seen_.resize(std::max<size_t>(tag.seq + 1, seen_.size() * 2));
  }
  if (seen_[tag.seq]) {
    ++duplicates_;
    return;
  }
  seen_[tag.seq] = true;
  ++unique_;
  if (first_sent_ns_ == 0 || tag.sent_ns < first_sent_ns_) {
    first_sent_ns_ = tag.sent_ns;
  }
  last_received_ns_ = std::max(last_received_ns_, now_ns);
  if (latencies_.size() < 50000000) latencies_.push_back(now_ns - tag.sent_ns);
}

int RecordTagsIn(absl::string_view text, int64_t now_ns,
                 DeliveryCounter& counter) {
  int found = 0;
  size_t pos = 0;
  while ((pos = text.find(kTagPrefix, pos)) != absl::string_view::npos) {
    Tag tag;
    if (ParseTag(text.substr(pos), tag)) {
      counter.Record(tag, now_ns);
      ++found;
      pos += kTagLength;
    } else {
      pos += kTagPrefix.size();
    }
  }
  return found;
}

}  // namespace ngsi_bridge::bench
