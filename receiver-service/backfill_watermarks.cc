#include "receiver-service/backfill_watermarks.h"

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace ngsi_bridge::receiver {
namespace {

using json = nlohmann::json;

std::string FormatIso(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
}

// json::value() throws on a type mismatch; this never does.
std::string StringOr(const json& doc, const char* key, const char* fallback) {
  const auto it = doc.find(key);
  return it != doc.end() && it->is_string() ? it->get<std::string>()
                                            : fallback;
}

}  // namespace

absl::StatusOr<std::unique_ptr<BackfillWatermarks>> BackfillWatermarks::Open(
    std::string path) {
  std::unique_ptr<BackfillWatermarks> marks(
      new BackfillWatermarks(std::move(path)));
  if (marks->path_.empty()) return marks;
  std::ifstream in(marks->path_, std::ios::binary);
  if (!in) return marks;  // first start: nothing held yet
  std::stringstream text;
  text << in.rdbuf();
  const json doc = json::parse(text.str(), /*cb=*/nullptr,
                               /*allow_exceptions=*/false);
  const auto subs = doc.find("subscriptions");  // end() for non-objects
  if (subs == doc.end() || !subs->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "state file '", marks->path_, "' has no \"subscriptions\" object"));
  }
  absl::MutexLock lock(&marks->mu_);
  for (auto it = subs->begin(); it != subs->end(); ++it) {
    if (!it->is_object()) continue;
    if (it->contains("broker")) {
      marks->placements_[it.key()] = SubscriptionPlacement{
          StringOr(*it, "broker", ""), StringOr(*it, "flavor", "v2"),
          StringOr(*it, "service", "")};
    }
    const auto at = it->find("watermark");
    if (at == it->end()) continue;  // placement only: never healthy yet
    absl::Time time;
    std::string error;
    if (!at->is_string() ||
        !absl::ParseTime(absl::RFC3339_full, at->get<std::string>(), &time,
                         &error)) {
      return absl::InvalidArgumentError(
          absl::StrCat("state file '", marks->path_, "': subscription '",
                       it.key(), "' has no valid watermark"));
    }
    marks->watermarks_[it.key()] = time;
  }
  return marks;
}

std::optional<absl::Time> BackfillWatermarks::Get(
    absl::string_view name) const {
  absl::MutexLock lock(&mu_);
  const auto it = watermarks_.find(name);
  if (it == watermarks_.end()) return std::nullopt;
  return it->second;
}

void BackfillWatermarks::Set(absl::string_view name, absl::Time watermark) {
  absl::MutexLock lock(&mu_);
  watermarks_[std::string(name)] = watermark;
}

void BackfillWatermarks::SetPlacement(
    absl::string_view name, const SubscriptionPlacement& placement) {
  absl::MutexLock lock(&mu_);
  placements_[std::string(name)] = placement;
}

std::vector<SubscriptionPlacement> BackfillWatermarks::Placements() const {
  absl::MutexLock lock(&mu_);
  std::set<SubscriptionPlacement> distinct;
  for (const auto& [name, placement] : placements_) distinct.insert(placement);
  return {distinct.begin(), distinct.end()};
}

void BackfillWatermarks::Forget(absl::string_view name) {
  absl::MutexLock lock(&mu_);
  if (auto it = watermarks_.find(name); it != watermarks_.end()) {
    watermarks_.erase(it);
  }
  if (auto it = placements_.find(name); it != placements_.end()) {
    placements_.erase(it);
  }
}

absl::Status BackfillWatermarks::Save() const {
  if (path_.empty()) return absl::OkStatus();
  json subs = json::object();
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, time] : watermarks_) {
      subs[name]["watermark"] = FormatIso(time);
    }
    for (const auto& [name, placement] : placements_) {
      subs[name]["broker"] = placement.broker_url;
      subs[name]["flavor"] = placement.flavor;
      subs[name]["service"] = placement.service;
    }
  }
  const std::string text =
      json{{"version", 1}, {"subscriptions", subs}}.dump(2) + "\n";
  const std::string temp = path_ + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      return absl::UnavailableError(
          absl::StrCat("cannot write state file '", temp, "'"));
    }
  }
  if (std::rename(temp.c_str(), path_.c_str()) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot rename '", temp, "' to '", path_, "'"));
  }
  return absl::OkStatus();
}

}  // namespace ngsi_bridge::receiver
