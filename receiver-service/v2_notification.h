#pragma once

#include "absl/status/status.h"
#include "ngsi_bridge/v1/ngsi.pb.h"
#include "nlohmann/json_fwd.hpp"
#include "receiver-service/notification_parser.h"

// Readers of the NGSIv2 (Orion) notification bodies. Each fills the
// entities and envelope members of an event whose headers were already
// consumed, and fails with kInvalidArgument naming what does not have the
// shape of its format (entity indexes count from 0, as in data[0]). Pure
// functions: thread-safe, never block.
namespace ngsi_bridge::receiver {

// {"subscriptionId":..., "data":[...]} with `format` NORMALIZED (also
// ngsi-patched custom), KEY_VALUES (also Orion-LD x-ngsiv2-keyValues) or
// VALUES (arrays of bare values, no id or type). Unknown envelope members
// go to event.extra.
absl::Status ParseV2Envelope(const nlohmann::json& body, v1::Format format,
                             const ParseLimits& limits, v1::NgsiEvent* event);

// simplifiedNormalized / simplifiedKeyValues: the body is the one entity.
absl::Status ParseV2BareEntity(const nlohmann::json& body, v1::Format format,
                               v1::NgsiEvent* event);

// NGSIv1 {"subscriptionId", "originator", "contextResponses": [...]}.
// Each entity's isPattern and the other members of its context response
// (statusCode) go to legacy_status; attribute metadatas to metadata.
absl::Status ParseV1LegacyNotification(const nlohmann::json& body,
                                       const ParseLimits& limits,
                                       v1::NgsiEvent* event);

// True when `body` is an NGSIv2 envelope whose attributes are all
// normalized objects (for bodies that arrive with no format header).
bool HasNormalizedV2Attributes(const nlohmann::json& body);

}  // namespace ngsi_bridge::receiver
