#include "receiver-service/subscription_spec.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace ngsi_bridge::receiver {
namespace {

using json = nlohmann::json;

constexpr absl::string_view kMarkerPrefix = "[ngsi-bridge:";

bool IsKnownFormat(v1::Flavor flavor, const std::string& format) {
  static const std::vector<std::string> kV2 = {
      "normalized", "keyValues", "values", "simplifiedNormalized",
      "simplifiedKeyValues", "legacy"};
  static const std::vector<std::string> kLd = {"normalized", "concise",
                                               "simplified", "keyValues"};
  const std::vector<std::string>& known = flavor == v1::NGSI_LD ? kLd : kV2;
  return std::find(known.begin(), known.end(), format) != known.end();
}

json EntitiesJson(const SubscriptionSpec& spec) {
  json entities = json::array();
  for (const EntitySelector& selector : spec.entities) {
    json entity = json::object();
    if (!selector.id.empty()) entity["id"] = selector.id;
    if (!selector.id_pattern.empty()) entity["idPattern"] = selector.id_pattern;
    if (!selector.type.empty()) entity["type"] = selector.type;
    entities.push_back(std::move(entity));
  }
  return entities;
}

// The member at `path` (object keys), or null when any step is missing.
const json* Find(const json& doc, std::initializer_list<const char*> path) {
  const json* at = &doc;
  for (const char* key : path) {
    if (!at->is_object()) return nullptr;
    const auto it = at->find(key);
    if (it == at->end()) return nullptr;
    at = &*it;
  }
  return at;
}

std::string StringAt(const json& doc, std::initializer_list<const char*> path,
                     const std::string& fallback = "") {
  const json* at = Find(doc, path);
  return at != nullptr && at->is_string() ? at->get<std::string>() : fallback;
}

// An absent list and an empty one mean the same to a broker; order does not
// matter either (Orion keeps it, but a human may reorder the file).
std::vector<std::string> StringsAt(const json& doc,
                                   std::initializer_list<const char*> path) {
  std::vector<std::string> out;
  const json* at = Find(doc, path);
  if (at == nullptr || !at->is_array()) return out;
  for (const json& item : *at) {
    out.push_back(item.is_string() ? item.get<std::string>() : item.dump());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> Sorted(std::vector<std::string> values) {
  std::sort(values.begin(), values.end());
  return values;
}

// Orion answers an integer, Orion-LD may answer a double: compare values.
double ThrottlingOf(const json& doc) {
  const json* at = Find(doc, {"throttling"});
  return at != nullptr && at->is_number() ? at->get<double>() : 0;
}

const char* ExpiresMember(v1::Flavor flavor) {
  return flavor == v1::NGSI_LD ? "expiresAt" : "expires";
}

// The expiry the broker reports, in whole seconds (Orion's resolution);
// nullopt when permanent. NGSI-LD brokers may still echo the older name.
std::optional<int64_t> ExpirySecondsOf(v1::Flavor flavor, const json& doc) {
  std::string text = StringAt(doc, {ExpiresMember(flavor)});
  if (text.empty() && flavor == v1::NGSI_LD) text = StringAt(doc, {"expires"});
  if (text.empty()) return std::nullopt;
  const std::optional<absl::Time> time = ParseBrokerTime(text);
  // An expiry we cannot read is not one we asked for: it counts as drift.
  if (!time.has_value()) return std::numeric_limits<int64_t>::min();
  return absl::ToUnixSeconds(*time);
}

std::optional<int64_t> ExpirySecondsOf(const SubscriptionSpec& spec) {
  if (spec.expires.empty()) return std::nullopt;
  const std::optional<absl::Time> time = ParseBrokerTime(spec.expires);
  if (!time.has_value()) return std::nullopt;
  return absl::ToUnixSeconds(*time);
}

using SelectorKey = std::tuple<std::string, std::string, std::string>;

std::vector<SelectorKey> SelectorKeys(const json* entities) {
  std::vector<SelectorKey> out;
  if (entities == nullptr || !entities->is_array()) return out;
  for (const json& entity : *entities) {
    // Anything else a selector carries (typePattern, ...) is not ours: it
    // makes the selector differ, so it counts as drift.
    std::string extra;
    if (entity.is_object()) {
      for (auto it = entity.begin(); it != entity.end(); ++it) {
        if (it.key() != "id" && it.key() != "idPattern" &&
            it.key() != "type") {
          absl::StrAppend(&extra, it.key(), "=", it.value().dump(), ";");
        }
      }
    }
    out.emplace_back(StringAt(entity, {"id"}) + extra,
                     StringAt(entity, {"idPattern"}),
                     StringAt(entity, {"type"}));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<SelectorKey> SelectorKeys(const SubscriptionSpec& spec) {
  std::vector<SelectorKey> out;
  for (const EntitySelector& selector : spec.entities) {
    out.emplace_back(selector.id, selector.id_pattern, selector.type);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

absl::Status ValidateSubscriptionSpec(const SubscriptionSpec& spec) {
  const std::string who = absl::StrCat("subscription '", spec.name, "'");
  if (spec.name.empty()) {
    return absl::InvalidArgumentError("subscription without a name");
  }
  if (spec.name.find(']') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(who, ": name must not contain ']'"));
  }
  if (!absl::StartsWith(spec.broker_url, "http://") &&
      !absl::StartsWith(spec.broker_url, "https://")) {
    return absl::InvalidArgumentError(absl::StrCat(
        who, ": broker url must start with http:// or https://, got '",
        spec.broker_url, "'"));
  }
  if (spec.flavor != v1::NGSI_V2 && spec.flavor != v1::NGSI_LD) {
    return absl::InvalidArgumentError(
        absl::StrCat(who, ": flavor must be v2 or ld"));
  }
  if (spec.entities.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(who, ": needs at least one entity selector"));
  }
  for (const EntitySelector& selector : spec.entities) {
    if (!selector.id.empty() && !selector.id_pattern.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(who, ": an entity has both id and idPattern"));
    }
    // NGSI-LD selects by type alone; NGSIv2 wants an id or a pattern.
    if (spec.flavor == v1::NGSI_V2 && selector.id.empty() &&
        selector.id_pattern.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(who, ": an entity needs id or idPattern"));
    }
    if (spec.flavor == v1::NGSI_LD && selector.type.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(who, ": NGSI-LD entities need a type"));
    }
  }
  if (!IsKnownFormat(spec.flavor, spec.format)) {
    return absl::InvalidArgumentError(
        absl::StrCat(who, ": unknown format '", spec.format, "'"));
  }
  if (spec.throttling_seconds < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        who, ": throttling must be >= 0, got ", spec.throttling_seconds));
  }
  if (!spec.expires.empty() && !ParseBrokerTime(spec.expires).has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        who, ": expires must be an ISO 8601 date and time, got '",
        spec.expires, "'"));
  }
  return absl::OkStatus();
}

std::optional<absl::Time> ParseBrokerTime(absl::string_view text) {
  const std::string value(text);
  absl::Time time;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, value, &time, &error)) return time;
  // Brokers take a date and time without zone as UTC, and a bare date.
  if (absl::ParseTime("%Y-%m-%d%ET%H:%M:%E*S", value, absl::UTCTimeZone(),
                      &time, &error) ||
      absl::ParseTime("%Y-%m-%d", value, absl::UTCTimeZone(), &time,
                      &error)) {
    return time;
  }
  return std::nullopt;
}

std::string OwnershipMarker(absl::string_view name) {
  return absl::StrCat(kMarkerPrefix, name, "]");
}

std::optional<std::string> OwnerFromDescription(
    absl::string_view description) {
  if (!absl::StartsWith(description, kMarkerPrefix)) return std::nullopt;
  const size_t end = description.find(']');
  if (end == absl::string_view::npos) return std::nullopt;
  return std::string(description.substr(
      kMarkerPrefix.size(), end - kMarkerPrefix.size()));
}

std::string DescriptionFor(const SubscriptionSpec& spec) {
  std::string out = OwnershipMarker(spec.name);
  if (!spec.description.empty()) absl::StrAppend(&out, " ", spec.description);
  return out;
}

std::vector<std::pair<std::string, std::string>> BrokerCallHeaders(
    const SubscriptionSpec& spec) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (spec.flavor == v1::NGSI_LD) {
    if (!spec.service.empty()) {
      headers.emplace_back("NGSILD-Tenant", spec.service);
    }
    if (!spec.ld_context.empty()) {
      headers.emplace_back(
          "Link",
          absl::StrCat("<", spec.ld_context,
                       ">; rel=\"http://www.w3.org/ns/json-ld#context\"; "
                       "type=\"application/ld+json\""));
    }
  } else {
    if (!spec.service.empty()) {
      headers.emplace_back("Fiware-Service", spec.service);
    }
    if (!spec.service_path.empty()) {
      headers.emplace_back("Fiware-ServicePath", spec.service_path);
    }
  }
  headers.insert(headers.end(), spec.headers.begin(), spec.headers.end());
  return headers;
}

json DesiredSubscriptionJson(const SubscriptionSpec& spec,
                             absl::string_view callback_url) {
  json body = json::object();
  body["description"] = DescriptionFor(spec);
  if (spec.flavor == v1::NGSI_LD) {
    body["type"] = "Subscription";
    body["entities"] = EntitiesJson(spec);
    if (!spec.condition_attrs.empty()) {
      body["watchedAttributes"] = spec.condition_attrs;
    }
    json notification = json::object();
    if (!spec.notified_attrs.empty()) {
      notification["attributes"] = spec.notified_attrs;
    }
    notification["format"] = spec.format;
    notification["endpoint"] = {{"uri", std::string(callback_url)},
                                {"accept", "application/json"}};
    body["notification"] = std::move(notification);
  } else {
    json subject = {{"entities", EntitiesJson(spec)}};
    subject["condition"] = json::object();
    if (!spec.condition_attrs.empty()) {
      subject["condition"]["attrs"] = spec.condition_attrs;
    }
    body["subject"] = std::move(subject);
    json notification = {{"http", {{"url", std::string(callback_url)}}}};
    notification["attrs"] = spec.notified_attrs;
    notification["attrsFormat"] = spec.format;
    body["notification"] = std::move(notification);
  }
  if (spec.throttling_seconds > 0) body["throttling"] = spec.throttling_seconds;
  if (!spec.expires.empty()) body[ExpiresMember(spec.flavor)] = spec.expires;
  return body;
}

json SubscriptionPatchJson(const SubscriptionSpec& spec,
                           absl::string_view callback_url,
                           const std::vector<std::string>& drift) {
  json patch = DesiredSubscriptionJson(spec, callback_url);
  patch.erase("type");
  const auto drifted = [&drift](absl::string_view member) {
    return std::find(drift.begin(), drift.end(), member) != drift.end();
  };
  if (spec.throttling_seconds == 0 && drifted("throttling")) {
    patch["throttling"] = 0;
  }
  if (spec.expires.empty() && drifted(ExpiresMember(spec.flavor))) {
    if (spec.flavor == v1::NGSI_LD) {
      patch["expiresAt"] = nullptr;
    } else {
      patch["expires"] = "";
    }
  }
  return patch;
}

std::vector<std::string> FindDrift(const SubscriptionSpec& spec,
                                   absl::string_view callback_url,
                                   const json& actual) {
  std::vector<std::string> drift;
  if (StringAt(actual, {"description"}) != DescriptionFor(spec)) {
    drift.push_back("description");
  }
  if (std::fabs(ThrottlingOf(actual) -
                static_cast<double>(spec.throttling_seconds)) > 1e-6) {
    drift.push_back("throttling");
  }
  if (ExpirySecondsOf(spec.flavor, actual) != ExpirySecondsOf(spec)) {
    drift.push_back(ExpiresMember(spec.flavor));
  }
  if (spec.flavor == v1::NGSI_LD) {
    if (SelectorKeys(Find(actual, {"entities"})) != SelectorKeys(spec)) {
      drift.push_back("entities");
    }
    if (StringsAt(actual, {"watchedAttributes"}) !=
        Sorted(spec.condition_attrs)) {
      drift.push_back("watchedAttributes");
    }
    if (StringsAt(actual, {"notification", "attributes"}) !=
        Sorted(spec.notified_attrs)) {
      drift.push_back("notification.attributes");
    }
    if (StringAt(actual, {"notification", "format"}, "normalized") !=
        spec.format) {
      drift.push_back("notification.format");
    }
    if (StringAt(actual, {"notification", "endpoint", "uri"}) !=
        callback_url) {
      drift.push_back("notification.endpoint.uri");
    }
    return drift;
  }
  if (SelectorKeys(Find(actual, {"subject", "entities"})) !=
      SelectorKeys(spec)) {
    drift.push_back("subject.entities");
  }
  if (StringsAt(actual, {"subject", "condition", "attrs"}) !=
      Sorted(spec.condition_attrs)) {
    drift.push_back("subject.condition.attrs");
  }
  if (StringsAt(actual, {"notification", "attrs"}) !=
      Sorted(spec.notified_attrs)) {
    drift.push_back("notification.attrs");
  }
  if (StringAt(actual, {"notification", "attrsFormat"}, "normalized") !=
      spec.format) {
    drift.push_back("notification.attrsFormat");
  }
  if (StringAt(actual, {"notification", "http", "url"}) != callback_url) {
    drift.push_back("notification.http.url");
  }
  return drift;
}

}  // namespace ngsi_bridge::receiver
