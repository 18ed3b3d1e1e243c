#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "ngsi_bridge/v1/ngsi.pb.h"

namespace ngsi_bridge::receiver {

namespace v1 = ::ngsi_bridge::v1;

// What the headers of one notification say about how to read its body.
// Filled header by header by ConsumeNotificationHeader(). Plain value.
struct NotificationHeaders {
  std::optional<std::string> v2_attrs_format;  // Ngsiv2-AttrsFormat
  std::optional<std::string> ld_attrs_format;  // Ngsild-Attribute-Format
  std::string media_type;  // Content-Type, lower-cased, without parameters
  bool has_link_context = false;  // a Link header with rel=json-ld#context
  std::string user_agent;         // consumed, kept only as broker evidence
};

// Moves one header into `event` or drops it: tenant, service path,
// correlator, Content-Type and the JSON-LD Link go to their fields; the
// format headers and User-Agent to `headers`; secrets (Authorization,
// X-Auth-Token, Cookie, Proxy-Authorization), hop-by-hop headers and
// Host/Content-Length/User-Agent/Accept are dropped; the rest go to
// `event.headers` under their lower-cased name (repeated names joined with
// ", "). Names are matched case-insensitively. Fails with kInvalidArgument
// when a kept value is not UTF-8. Thread-compatible, never blocks.
absl::Status ConsumeNotificationHeader(absl::string_view name,
                                       absl::string_view value,
                                       NotificationHeaders* headers,
                                       v1::NgsiEvent* event);

// The value of the first `name` parameter of a raw query string, %-decoded,
// or nullopt when absent.
std::optional<std::string> FindQueryParameter(absl::string_view query,
                                              absl::string_view name);

}  // namespace ngsi_bridge::receiver
