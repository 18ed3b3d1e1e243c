#include "receiver-service/subscription_status.h"

#include <algorithm>
#include <functional>
#include <set>

#include "nlohmann/json.hpp"

namespace ngsi_bridge::receiver {

double BrokerTimeToSeconds(const std::string& text) {
  absl::Time time;
  std::string error;
  if (text.empty() ||
      !absl::ParseTime(absl::RFC3339_full, text, &time, &error)) {
    return 0;
  }
  return absl::ToDoubleSeconds(time - absl::UnixEpoch());
}

void SubscriptionStatusBoard::Update(const SubscriptionState& state) {
  absl::MutexLock lock(&mu_);
  states_[state.name] = state;
}

void SubscriptionStatusBoard::Retain(const std::vector<std::string>& names) {
  const std::set<std::string> keep(names.begin(), names.end());
  absl::MutexLock lock(&mu_);
  for (auto it = states_.begin(); it != states_.end();) {
    it = keep.count(it->first) ? std::next(it) : states_.erase(it);
  }
}

std::vector<SubscriptionState> SubscriptionStatusBoard::Snapshot() const {
  absl::MutexLock lock(&mu_);
  std::vector<SubscriptionState> out;
  out.reserve(states_.size());
  for (const auto& [name, state] : states_) out.push_back(state);
  return out;
}

std::string SubscriptionStatusBoard::RenderJson() const {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const SubscriptionState& s : Snapshot()) {
    nlohmann::ordered_json item = {
        {"name", s.name},
        {"broker", s.broker_url},
        {"flavor", s.flavor},
        {"service", s.service},
        {"servicePath", s.service_path},
        {"id", s.id},
        {"status", s.status},
        {"timesSent", s.times_sent},
        {"failures", s.failures},
        {"lastNotification", s.last_notification},
        {"lastSuccess", s.last_success},
        {"lastFailure", s.last_failure},
        {"lastFailureReason", s.last_failure_reason},
        {"lastAction", s.last_action},
        {"lastError", s.last_error},
        {"checkedAt", s.checked_at == absl::InfinitePast()
                          ? std::string()
                          : absl::FormatTime(absl::RFC3339_full, s.checked_at,
                                             absl::UTCTimeZone())},
        {"backfilledEntities", s.backfilled_entities},
        {"backfilledSince", s.backfilled_since}};
    list.push_back(std::move(item));
  }
  return nlohmann::ordered_json{{"subscriptions", list}}.dump(2) + "\n";
}

void SubscriptionStatusBoard::RegisterMetrics(
    common::MetricsRegistry* metrics) {
  // One callback per family; each takes a snapshot so a scrape never holds
  // the board's lock while the registry renders.
  auto family = [this, metrics](
                    absl::string_view name, absl::string_view help,
                    std::function<double(const SubscriptionState&)> value) {
    metrics->AddGaugeCallback(name, help, [this, value] {
      common::MetricsRegistry::GaugeSamples samples;
      for (const SubscriptionState& s : Snapshot()) {
        samples.push_back({{{"subscription", s.name}}, value(s)});
      }
      return samples;
    });
  };
  metrics->AddGaugeCallback(
      "ngsi_receiver_subscription_status",
      "1 for the status the broker reports for each declared subscription.",
      [this] {
        common::MetricsRegistry::GaugeSamples samples;
        for (const SubscriptionState& s : Snapshot()) {
          samples.push_back(
              {{{"subscription", s.name}, {"status", s.status}}, 1});
        }
        return samples;
      });
  family("ngsi_receiver_subscription_times_sent",
         "Notifications the broker says it sent (timesSent).",
         [](const SubscriptionState& s) {
           return static_cast<double>(s.times_sent);
         });
  family("ngsi_receiver_subscription_failures",
         "Consecutive failed deliveries the broker reports (failsCounter / "
         "consecutiveErrors).",
         [](const SubscriptionState& s) {
           return static_cast<double>(s.failures);
         });
  family("ngsi_receiver_subscription_last_success_seconds",
         "Broker's lastSuccess as Unix seconds (0 = never).",
         [](const SubscriptionState& s) {
           return BrokerTimeToSeconds(s.last_success);
         });
  family("ngsi_receiver_subscription_last_failure_seconds",
         "Broker's lastFailure as Unix seconds (0 = never).",
         [](const SubscriptionState& s) {
           return BrokerTimeToSeconds(s.last_failure);
         });
  family("ngsi_receiver_subscription_backfilled_entities",
         "Entities appended by gap backfill since start (a counter).",
         [](const SubscriptionState& s) {
           return static_cast<double>(s.backfilled_entities);
         });
}

}  // namespace ngsi_bridge::receiver
