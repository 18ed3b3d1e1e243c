#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ngsi_bridge/v1/ngsi.pb.h"
#include "nlohmann/json_fwd.hpp"

namespace ngsi_bridge::receiver {

namespace v1 = ::ngsi_bridge::v1;

// One entity selector of a subscription: an id or an id pattern, and a
// type (NGSI-LD requires the type).
struct EntitySelector {
  std::string id;
  std::string id_pattern;
  std::string type;
};

// One subscription the receiver wants a broker to hold: read from the
// subscriptions file, rendered into the broker's JSON, compared with what
// the broker reports. Plain value type.
struct SubscriptionSpec {
  // Unique within the file; the broker-side subscription is recognised as
  // ours by OwnershipMarker(name) in its description.
  std::string name;
  std::string broker_url;  // "http://orion:1026" (no trailing /v2)
  v1::Flavor flavor = v1::NGSI_V2;
  std::string service;       // Fiware-Service (v2) or NGSILD-Tenant (LD)
  std::string service_path;  // Fiware-ServicePath (v2); "" = broker default
  // Sent on every call to the broker (credentials such as X-Auth-Token or
  // Authorization); never logged or shown.
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<EntitySelector> entities;
  std::vector<std::string> condition_attrs;  // v2 condition.attrs / LD
                                             // watchedAttributes
  std::vector<std::string> notified_attrs;   // v2 notification.attrs / LD
                                             // notification.attributes
  // v2 attrsFormat / LD notification.format; "normalized" by default.
  std::string format = "normalized";
  int64_t throttling_seconds = 0;
  // When the broker drops the subscription: ISO 8601 ("2050-01-01T00:00:00Z";
  // no zone means UTC, as for Orion). "" = permanent, and an expiry the
  // broker holds is cleared.
  std::string expires;
  // The URL the broker notifies; "" = the receiver's --callback_url.
  std::string callback_url;
  std::string description;  // the human part of the description
  // NGSI-LD: the @context sent as a Link header with every call; "" = none
  // (the broker's core context).
  std::string ld_context;
};

// kInvalidArgument naming the subscription and the bad field (no name,
// no broker URL, no entities, an entity with neither id nor idPattern, an
// NGSI-LD entity without type, a negative throttling, an unknown format,
// an expires that is not an ISO 8601 date and time).
absl::Status ValidateSubscriptionSpec(const SubscriptionSpec& spec);

// "[ngsi-bridge:<name>]": the marker our descriptions start with.
std::string OwnershipMarker(absl::string_view name);

// The subscription name of a broker description carrying our marker, or
// nullopt for a subscription someone else owns.
std::optional<std::string> OwnerFromDescription(absl::string_view description);

// The description we give the broker: the marker, then the human part.
std::string DescriptionFor(const SubscriptionSpec& spec);

// The headers every call to the spec's broker carries: Fiware-Service and
// Fiware-ServicePath (v2) or NGSILD-Tenant and the Link @context (LD), then
// the spec's own headers (credentials).
std::vector<std::pair<std::string, std::string>> BrokerCallHeaders(
    const SubscriptionSpec& spec);

// An ISO 8601 date and time as brokers accept it (RFC 3339, or without a
// zone meaning UTC, or a bare date), nullopt when it is not one.
std::optional<absl::Time> ParseBrokerTime(absl::string_view text);

// The subscription body we create at the broker (NGSIv2 or NGSI-LD shape),
// notifying `callback_url`.
nlohmann::json DesiredSubscriptionJson(const SubscriptionSpec& spec,
                                       absl::string_view callback_url);

// The PATCH that brings a drifted subscription back to `spec`: the desired
// body, plus what removes members the spec leaves out but the broker has
// (`drift` as FindDrift returns it): throttling 0, and an expiry cleared
// with "expires": "" (NGSIv2, Orion's way to make a subscription permanent)
// or "expiresAt": null (NGSI-LD, where a null member in a PATCH is removed).
nlohmann::json SubscriptionPatchJson(const SubscriptionSpec& spec,
                                     absl::string_view callback_url,
                                     const std::vector<std::string>& drift);

// The names of the members where `actual` (a subscription as the broker
// lists it) differs from what `spec` wants ("notification.attrs",
// "subject.entities", ...); empty when nothing drifted. Members the broker
// leaves out count as their default (no attrs, throttling 0, no expiry).
// Numbers compare as numbers (5 and 5.0 agree) and expiry instants to the
// second (Orion keeps whole seconds and answers "...:00.000Z" for "...:00Z").
// Delivery state (status, counters) is not compared.
std::vector<std::string> FindDrift(const SubscriptionSpec& spec,
                                   absl::string_view callback_url,
                                   const nlohmann::json& actual);

}  // namespace ngsi_bridge::receiver
