#pragma once

#include "absl/status/status.h"
#include "ngsi_bridge/v1/ngsi.pb.h"
#include "nlohmann/json_fwd.hpp"
#include "receiver-service/attribute_parser.h"
#include "receiver-service/notification_parser.h"

// Reader of NGSI-LD (Orion-LD native and legacy notifier) notification
// bodies. Pure function: thread-safe, never blocks.
namespace ngsi_bridge::receiver {

// {"id", "type":"Notification", "subscriptionId", "notifiedAt", "data",
// "@context"?}. `data` is an entity array, or a GeoJSON FeatureCollection
// when `format` is GEOJSON; `form` says how attributes are rendered.
// Fills notification_id, subscription_id, notified_at, contexts (inline
// @context as sent) and entities; other envelope members, a "type" other
// than "Notification" and a notifiedAt that is not in Orion-LD's
// millisecond form go to event.extra. Fails with kInvalidArgument naming
// the problem (no "data", entity without "id", too many entities).
absl::Status ParseLdNotification(const nlohmann::json& body, v1::Format format,
                                 LdForm form, const ParseLimits& limits,
                                 v1::NgsiEvent* event);

// True when `body` has what only an NGSI-LD notification has: type
// "Notification", an @context, notifiedAt, or NGSI-LD typed attributes.
bool LooksLikeLdNotification(const nlohmann::json& body);

}  // namespace ngsi_bridge::receiver
