#include "common/metrics.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace ngsi_bridge::common {
namespace {

// std::atomic<double> has no fetch_add before C++20.
void AtomicAdd(std::atomic<double>& target, double by) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + by,
                                       std::memory_order_relaxed)) {
  }
}

std::string FormatNumber(double value) { return absl::StrCat(value); }

}  // namespace

void Counter::Increment(double by) { AtomicAdd(value_, by); }

void Gauge::Add(double by) { AtomicAdd(value_, by); }

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      bucket_counts_(new std::atomic<uint64_t>[upper_bounds_.size() + 1]) {
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) bucket_counts_[i] = 0;
}

void Histogram::Observe(double value) {
  const size_t bucket =
      std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) -
      upper_bounds_.begin();
  bucket_counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(sum_, value);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void Histogram::Render(absl::string_view name, const std::string& labels,
                       std::string& out) const {
  // Bucket lines need `le` appended inside the label braces.
  const std::string inner =
      labels.empty() ? "" : labels.substr(1, labels.size() - 2) + ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) {
    cumulative += bucket_counts_[i].load(std::memory_order_relaxed);
    const std::string le =
        i < upper_bounds_.size() ? FormatNumber(upper_bounds_[i]) : "+Inf";
    absl::StrAppend(&out, name, "_bucket{", inner, "le=\"", le, "\"} ",
                    cumulative, "\n");
  }
  absl::StrAppend(&out, name, "_sum", labels, " ",
                  FormatNumber(sum_.load(std::memory_order_relaxed)), "\n");
  absl::StrAppend(&out, name, "_count", labels, " ",
                  count_.load(std::memory_order_relaxed), "\n");
}

std::vector<double> LatencyBucketsSeconds() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
          0.01,    0.025,  0.05,    0.1,    0.25,  0.5,    1,
          2.5,     5,      10};
}

std::string FormatLabels(const MetricLabels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    const std::string escaped = absl::StrReplaceAll(
        labels[i].second, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}});
    absl::StrAppend(&out, i ? "," : "", labels[i].first, "=\"", escaped, "\"");
  }
  return out + "}";
}

MetricsRegistry::Family& MetricsRegistry::FamilyFor(absl::string_view name,
                                                    absl::string_view help,
                                                    absl::string_view type) {
  Family& family = families_[std::string(name)];
  if (family.type.empty()) {
    family.help = std::string(help);
    family.type = std::string(type);
  }
  return family;
}

Counter& MetricsRegistry::GetCounter(absl::string_view name,
                                     absl::string_view help,
                                     const MetricLabels& labels) {
  absl::MutexLock lock(&mu_);
  auto& slot = FamilyFor(name, help, "counter").counters[FormatLabels(labels)];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& MetricsRegistry::GetGauge(absl::string_view name,
                                 absl::string_view help,
                                 const MetricLabels& labels) {
  absl::MutexLock lock(&mu_);
  auto& slot = FamilyFor(name, help, "gauge").gauges[FormatLabels(labels)];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

Histogram& MetricsRegistry::GetHistogram(absl::string_view name,
                                         absl::string_view help,
                                         const MetricLabels& labels,
                                         std::vector<double> upper_bounds) {
  absl::MutexLock lock(&mu_);
  auto& slot =
      FamilyFor(name, help, "histogram").histograms[FormatLabels(labels)];
  if (!slot) slot = std::make_unique<Histogram>(std::move(upper_bounds));
  return *slot;
}

void MetricsRegistry::AddGaugeCallback(absl::string_view name,
                                       absl::string_view help,
                                       std::function<GaugeSamples()> callback) {
  absl::MutexLock lock(&mu_);
  callbacks_.push_back(
      {std::string(name), std::string(help), std::move(callback)});
}

std::string MetricsRegistry::Render() const {
  std::string out;
  std::vector<Callback> callbacks;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, family] : families_) {
      absl::StrAppend(&out, "# HELP ", name, " ", family.help, "\n# TYPE ",
                      name, " ", family.type, "\n");
      for (const auto& [labels, counter] : family.counters) {
        absl::StrAppend(&out, name, labels, " ", FormatNumber(counter->value()),
                        "\n");
      }
      for (const auto& [labels, gauge] : family.gauges) {
        absl::StrAppend(&out, name, labels, " ", FormatNumber(gauge->value()),
                        "\n");
      }
      for (const auto& [labels, histogram] : family.histograms) {
        histogram->Render(name, labels, out);
      }
    }
    callbacks = callbacks_;
  }
  // Callbacks reach into other components: never under our lock.
  for (const Callback& callback : callbacks) {
    absl::StrAppend(&out, "# HELP ", callback.name, " ", callback.help,
                    "\n# TYPE ", callback.name, " gauge\n");
    for (const auto& [labels, value] : callback.callback()) {
      absl::StrAppend(&out, callback.name, FormatLabels(labels), " ",
                      FormatNumber(value), "\n");
    }
  }
  return out;
}

}  // namespace ngsi_bridge::common
