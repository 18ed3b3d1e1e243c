#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "ngsi_bridge/v1/ngsi.pb.h"

namespace ngsi_bridge::receiver {

namespace v1 = ::ngsi_bridge::v1;

// Makes `event` a CUSTOM notification: no entities, the body verbatim
// (text, JSON object or array, XML, or "" for Orion's `payload: null`).
// The content type was already taken from the headers. Fails with
// kInvalidArgument when the body is not UTF-8 (events carry text). Pure
// function: thread-safe, never blocks.
absl::Status ParseCustomNotification(absl::string_view body,
                                     v1::NgsiEvent* event);

}  // namespace ngsi_bridge::receiver
