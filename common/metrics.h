#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace ngsi_bridge::common {

// Label pairs in the order they are rendered: {{"format","normalized"}}.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// A monotonically increasing value. Thread-safe, lock-free.
class Counter {
 public:
  void Increment(double by = 1);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// A value that goes up and down. Thread-safe, lock-free.
class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double by);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Cumulative buckets plus sum and count, as Prometheus wants. Thread-safe,
// lock-free.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double value);
  // Renders `name_bucket{...}`, `name_sum`, `name_count` lines.
  void Render(absl::string_view name, const std::string& labels,
              std::string& out) const;

 private:
  const std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> bucket_counts_;  // + one for +Inf
  std::atomic<double> sum_{0};
  std::atomic<uint64_t> count_{0};
};

// Latency buckets in seconds, 50 us to 10 s.
std::vector<double> LatencyBucketsSeconds();

// Owns every metric of a process and renders the Prometheus text format.
// Thread-safe. Get*() returns a reference that stays valid for the
// registry's lifetime: hot paths look a metric up once and keep it.
class MetricsRegistry {
 public:
  Counter& GetCounter(absl::string_view name, absl::string_view help,
                      const MetricLabels& labels = {});
  Gauge& GetGauge(absl::string_view name, absl::string_view help,
                  const MetricLabels& labels = {});
  Histogram& GetHistogram(absl::string_view name, absl::string_view help,
                          const MetricLabels& labels = {},
                          std::vector<double> upper_bounds =
                              LatencyBucketsSeconds());

  // A gauge family computed at scrape time (per-consumer lag, ...). The
  // callback runs on the scraping thread with no registry lock held.
  using GaugeSamples = std::vector<std::pair<MetricLabels, double>>;
  void AddGaugeCallback(absl::string_view name, absl::string_view help,
                        std::function<GaugeSamples()> callback);

  std::string Render() const;

 private:
  struct Family {
    std::string help;
    std::string type;  // counter, gauge, histogram
    std::map<std::string, std::unique_ptr<Counter>> counters;
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
    std::map<std::string, std::unique_ptr<Histogram>> histograms;
  };
  Family& FamilyFor(absl::string_view name, absl::string_view help,
                    absl::string_view type) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, Family> families_ ABSL_GUARDED_BY(mu_);
  struct Callback {
    std::string name, help;
    std::function<GaugeSamples()> callback;
  };
  std::vector<Callback> callbacks_ ABSL_GUARDED_BY(mu_);
};

// `{a="x",b="y"}` with Prometheus escaping, or "" for no labels.
std::string FormatLabels(const MetricLabels& labels);

}  // namespace ngsi_bridge::common
