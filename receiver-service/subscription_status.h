#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/metrics.h"

namespace ngsi_bridge::receiver {

// One declared subscription as the broker last reported it, plus what the
// reconciler last did about it. Plain value type.
struct SubscriptionState {
  std::string name;
  std::string broker_url;
  std::string flavor;  // "v2" | "ld"
  std::string service;
  std::string service_path;
  std::string id;  // the broker's id; "" when it does not exist (yet)
  // The broker's own word ("active", "failed", "paused", "inactive",
  // "expired"), "missing" before creation, "unknown" when the broker could
  // not be asked.
  std::string status = "unknown";
  int64_t times_sent = 0;
  int64_t failures = 0;  // v2 failsCounter / LD consecutiveErrors
  std::string last_notification;  // broker timestamps, as sent
  std::string last_success;
  std::string last_failure;
  std::string last_failure_reason;
  // created | updated | reactivated | unchanged | error
  std::string last_action;
  std::string last_error;  // the last reconcile or backfill error, if any
  absl::Time checked_at = absl::InfinitePast();
  int64_t backfilled_entities = 0;  // since start
  std::string backfilled_since;     // ISO time of the last backfill window
};

// The subscriptions' state for operators: /subscriptions (JSON) and
// ngsi_receiver_subscription_* gauges on /metrics. Written by the
// reconciler, read by admin and scrape threads. Owned by ReceiverServer;
// thread-safe.
class SubscriptionStatusBoard {
 public:
  // Replaces the entry named state.name.
  void Update(const SubscriptionState& state);
  // Drops entries whose names are not in `names` (the file changed).
  void Retain(const std::vector<std::string>& names);
  std::vector<SubscriptionState> Snapshot() const;

  // {"subscriptions":[{...}, ...]} in name order. Never blocks beyond the
  // board's lock.
  std::string RenderJson() const;
  // Adds the gauge callbacks; `metrics` must outlive the board's users.
  void RegisterMetrics(common::MetricsRegistry* metrics);

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, SubscriptionState> states_ ABSL_GUARDED_BY(mu_);
};

// Seconds since the epoch of a broker timestamp ("2026-11-25T10:00:00.000Z"),
// 0 when it is empty or does not parse.
double BrokerTimeToSeconds(const std::string& text);

}  // namespace ngsi_bridge::receiver
