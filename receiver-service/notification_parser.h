#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "ngsi_bridge/v1/ngsi.pb.h"

namespace ngsi_bridge::receiver {

namespace v1 = ::ngsi_bridge::v1;

// One HTTP notification as it arrived, before any interpretation.
struct NotificationRequest {
  std::string method;  // POST, PUT, PATCH, DELETE
  std::string path;    // "/notify"
  std::string query;   // raw query string without '?', "" when none
  // Headers as received; names are matched case-insensitively.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct ParseLimits {
  int max_depth = 64;           // JSON nesting
  size_t max_entities = 10000;  // entities in one notification
};

// Turns one broker notification (any NGSIv2 or NGSI-LD format, detected from
// Ngsiv2-AttrsFormat / Ngsild-Attribute-Format / Link / Content-Type and the
// body shape) into an event with every field but `sequence` and
// `received_at`. Fails with kInvalidArgument naming what is wrong (bad
// JSON, invalid UTF-8, a shape that does not match the announced format,
// too deep, too many entities). Pure function: thread-safe, never blocks.
absl::StatusOr<v1::NgsiEvent> ParseNotification(
    const NotificationRequest& request, const ParseLimits& limits = {});

}  // namespace ngsi_bridge::receiver
