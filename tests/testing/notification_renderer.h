#pragma once

#include "ngsi_bridge/v1/ngsi.pb.h"
#include "nlohmann/json_fwd.hpp"

// Test-only proof that the parser is lossless: renders a parsed event back
// into the body the broker sent, in the format it came in. (The replier
// owns the production renderer for write-back.) Pure function.
namespace ngsi_bridge::testing {

// The notification body: a JSON string holding the verbatim text for
// CUSTOM, else the NGSIv2 / NGSIv1 / NGSI-LD / GeoJSON body (and Orion-LD's
// MQTT {"body","metadata"} wrapper when the event came in one). Rules the
// event does not record and the renderer applies: NGSIv2 attributes always
// carry "metadata"; an NGSI-LD envelope always has "type":"Notification";
// the inline @context goes in the body only under application/ld+json.
nlohmann::json RenderNotificationBodyForTest(
    const ngsi_bridge::v1::NgsiEvent& event);

}  // namespace ngsi_bridge::testing
