#include "tests/testing/fake_subscription_broker.h"

#include <algorithm>
#include <map>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace ngsi_bridge::testing {
namespace {

using json = nlohmann::json;
using receiver::BrokerResponse;

std::string Decode(absl::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      int value = 0;
      if (absl::SimpleHexAtoi(text.substr(i + 1, 2), &value)) {
        out.push_back(static_cast<char>(value));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i] == '+' ? ' ' : text[i]);
  }
  return out;
}

std::map<std::string, std::string> ParseQuery(absl::string_view query) {
  std::map<std::string, std::string> out;
  for (absl::string_view pair : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    const size_t eq = pair.find('=');
    out[std::string(pair.substr(0, eq))] =
        eq == absl::string_view::npos ? "" : Decode(pair.substr(eq + 1));
  }
  return out;
}

BrokerResponse Answer(int status, std::string body = "") {
  BrokerResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

int IntParam(const std::map<std::string, std::string>& query,
             const std::string& name, int fallback) {
  int value = fallback;
  const auto it = query.find(name);
  if (it != query.end()) (void)absl::SimpleAtoi(it->second, &value);
  return value;
}

bool IdMatches(const std::string& id, const std::string& pattern) {
  if (pattern == ".*") return true;
  if (absl::EndsWith(pattern, ".*")) {
    return absl::StartsWith(id, pattern.substr(0, pattern.size() - 2));
  }
  return id == pattern;
}

// RFC 3339, or without a zone (UTC), as the brokers read an expiry.
std::optional<absl::Time> ParseExpiry(const std::string& text) {
  absl::Time time;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, text, &time, &error) ||
      absl::ParseTime("%Y-%m-%d%ET%H:%M:%E*S", text, absl::UTCTimeZone(),
                      &time, &error)) {
    return time;
  }
  return std::nullopt;
}

// Applies create or PATCH members the way the brokers store them: null
// (NGSI-LD) removes a member, "expires": "" (NGSIv2) makes the
// subscription permanent, throttling 0 is no throttling; expiry instants
// come back as Orion renders them (whole seconds, ".000Z") and NGSI-LD's
// under "expiresAt".
void ApplyMembers(bool ld, const json& members, json* stored) {
  for (auto member = members.begin(); member != members.end(); ++member) {
    std::string key = member.key();
    const json& value = member.value();
    if (ld && key == "expires") key = "expiresAt";
    const bool removes =
        value.is_null() || (key == "throttling" && value.is_number() &&
                            value.get<double>() == 0) ||
        (key == "expires" && value.is_string() &&
         value.get<std::string>().empty());
    if (removes) {
      stored->erase(key);
      continue;
    }
    if ((key == "expires" || key == "expiresAt") && value.is_string()) {
      const std::optional<absl::Time> time =
          ParseExpiry(value.get<std::string>());
      if (time.has_value()) {
        (*stored)[key] = absl::FormatTime(
            "%Y-%m-%dT%H:%M:%E3SZ",
            ld ? *time : absl::FromUnixSeconds(absl::ToUnixSeconds(*time)),
            absl::UTCTimeZone());
        continue;
      }
    }
    (*stored)[key] = value;
  }
}

}  // namespace

absl::StatusOr<BrokerResponse> FakeSubscriptionBroker::Send(
    absl::string_view /*base_url*/, const receiver::BrokerRequest& request) {
  absl::MutexLock lock(&mu_);
  calls_.push_back(absl::StrCat(request.method, " ", request.path));
  if (down_) return absl::UnavailableError("connection refused (fake)");
  const bool ld = absl::StartsWith(request.path, "/ngsi-ld/");
  const std::string subs_path =
      ld ? "/ngsi-ld/v1/subscriptions" : "/v2/subscriptions";
  const std::string entities_path =
      ld ? "/ngsi-ld/v1/entities" : "/v2/entities";
  const auto query = ParseQuery(request.query);

  if (request.path == subs_path && request.method == "GET") {
    json list = json::array();
    for (const auto& [id, sub] : subs_) {
      if (sub.ld != ld) continue;
      json item = json::parse(sub.json);
      item["id"] = id;
      list.push_back(std::move(item));
    }
    const int offset = IntParam(query, "offset", 0);
    const int limit = IntParam(query, "limit", 20);
    json page = json::array();
    for (int i = offset;
         i < static_cast<int>(list.size()) && i < offset + limit; ++i) {
      page.push_back(list[i]);
    }
    return Answer(200, page.dump());
  }
  if (request.path == subs_path && request.method == "POST") {
    const json body = json::parse(request.body, nullptr, false);
    if (!body.is_object()) return Answer(400, "{\"error\":\"BadRequest\"}");
    json stored = json::object();
    ApplyMembers(ld, body, &stored);
    if (ld) {
      stored["status"] = "active";
      stored["isActive"] = true;
    } else {
      stored["status"] = "active";
    }
    const std::string id = absl::StrCat("sub", next_id_++);
    subs_[id] = Sub{ld, stored.dump()};
    BrokerResponse response = Answer(201);
    response.headers.emplace_back("Location", subs_path + "/" + id);
    return response;
  }
  if (absl::StartsWith(request.path, subs_path + "/")) {
    const std::string id = request.path.substr(subs_path.size() + 1);
    const auto it = subs_.find(id);
    if (it == subs_.end()) return Answer(404, "{\"error\":\"NotFound\"}");
    if (request.method == "DELETE") {
      subs_.erase(it);
      return Answer(204);
    }
    if (request.method == "PATCH") {
      json stored = json::parse(it->second.json);
      const json patch = json::parse(request.body, nullptr, false);
      if (!patch.is_object()) return Answer(400, "{\"error\":\"BadRequest\"}");
      ApplyMembers(ld, patch, &stored);
      if (patch.value("isActive", false)) stored["status"] = "active";
      it->second.json = stored.dump();
      return Answer(204);
    }
    json item = json::parse(it->second.json);
    item["id"] = id;
    return Answer(200, item.dump());
  }
  if (request.path == entities_path && request.method == "GET") {
    absl::Time after = absl::InfinitePast();
    if (const auto q = query.find("q"); q != query.end()) {
      const size_t gt = q->second.find('>');
      std::string error;
      if (gt == std::string::npos ||
          !absl::ParseTime(absl::RFC3339_full, q->second.substr(gt + 1),
                           &after, &error)) {
        return Answer(400, "{\"error\":\"BadRequest\",\"description\":\"q\"}");
      }
    }
    json matched = json::array();
    for (const Entity& entity : entities_) {
      if (entity.ld != ld || entity.modified <= after) continue;
      json doc = json::parse(entity.json);
      const std::string id = doc.value("id", "");
      if (query.count("id") && query.at("id") != id) continue;
      if (query.count("idPattern") && !IdMatches(id, query.at("idPattern"))) {
        continue;
      }
      if (query.count("type") && query.at("type") != doc.value("type", "")) {
        continue;
      }
      const std::string iso = absl::FormatTime(
          "%Y-%m-%dT%H:%M:%E3SZ", entity.modified, absl::UTCTimeZone());
      if (ld) {
        doc["modifiedAt"] = iso;
      } else {
        doc["dateModified"] = {{"type", "DateTime"}, {"value", iso}};
      }
      matched.push_back(std::move(doc));
    }
    const int offset = IntParam(query, "offset", 0);
    const int limit = IntParam(query, "limit", 20);
    json page = json::array();
    for (int i = offset;
         i < static_cast<int>(matched.size()) && i < offset + limit; ++i) {
      page.push_back(matched[i]);
    }
    return Answer(200, page.dump());
  }
  return Answer(404, "{\"error\":\"NotFound\"}");
}

std::string FakeSubscriptionBroker::AddSubscriptionForTest(
    bool ld, const std::string& json) {
  absl::MutexLock lock(&mu_);
  const std::string id = absl::StrCat("sub", next_id_++);
  subs_[id] = Sub{ld, json};
  return id;
}

std::string FakeSubscriptionBroker::SubscriptionForTest(
    const std::string& id) const {
  absl::MutexLock lock(&mu_);
  const auto it = subs_.find(id);
  return it == subs_.end() ? "" : it->second.json;
}

void FakeSubscriptionBroker::SetMemberForTest(const std::string& id,
                                              const std::string& member,
                                              const std::string& json_value) {
  absl::MutexLock lock(&mu_);
  json stored = json::parse(subs_.at(id).json);
  stored[member] = json::parse(json_value);
  subs_.at(id).json = stored.dump();
}

std::vector<std::string> FakeSubscriptionBroker::SubscriptionIdsForTest()
    const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> ids;
  for (const auto& [id, sub] : subs_) ids.push_back(id);
  return ids;
}

void FakeSubscriptionBroker::PutEntityForTest(bool ld, const std::string& json,
                                              absl::Time modified) {
  absl::MutexLock lock(&mu_);
  entities_.push_back(Entity{ld, json, modified});
}

std::vector<std::string> FakeSubscriptionBroker::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

std::vector<std::string> FakeSubscriptionBroker::writes() const {
  std::vector<std::string> out;
  for (const std::string& call : calls()) {
    if (!absl::StartsWith(call, "GET ")) out.push_back(call);
  }
  return out;
}

void FakeSubscriptionBroker::ClearCallsForTest() {
  absl::MutexLock lock(&mu_);
  calls_.clear();
}

void FakeSubscriptionBroker::SetDownForTest(bool down) {
  absl::MutexLock lock(&mu_);
  down_ = down;
}

}  // namespace ngsi_bridge::testing
