#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "receiver-service/subscription_spec.h"

// The declarative subscriptions file (--subscriptions_file), YAML or JSON:
//
//   defaults:                 # optional, merged into every subscription
//     broker: http://orion:1026
//     flavor: v2              # v2 | ld
//     service: smartcity
//   subscriptions:            # or the list alone as the whole document
//     - name: rooms           # unique; the marker in the description
//       service_path: /madrid
//       headers: {X-Auth-Token: secret}
//       entities: [{idPattern: "Room.*", type: Room}]
//       condition_attrs: [temperature]
//       notified_attrs: [temperature, pressure]
//       format: normalized    # attrsFormat (v2) / notification.format (LD)
//       throttling: 5
//       expires: 2050-01-01T00:00:00Z  # "" / absent: permanent
//       callback_url: http://receiver.example:8061/notify
//       description: rooms of Madrid
//       ld_context: https://example.org/context.jsonld
//
// YAML is read with libyaml (full YAML 1.1 syntax; anchors and aliases are
// refused); JSON is YAML, so one reader serves both. Unknown keys are
// errors, so that a typo never silently subscribes to something else.
namespace ngsi_bridge::receiver {

// Reads and validates the file. kNotFound when it cannot be read,
// kInvalidArgument naming the subscription and key when it is malformed,
// a name repeats or a spec fails ValidateSubscriptionSpec. Blocks on I/O.
absl::StatusOr<std::vector<SubscriptionSpec>> LoadSubscriptionsFile(
    const std::string& path);

// The same from text already read (`origin` names it in errors).
absl::StatusOr<std::vector<SubscriptionSpec>> ParseSubscriptionsText(
    absl::string_view text, absl::string_view origin);

}  // namespace ngsi_bridge::receiver
