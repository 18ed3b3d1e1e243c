#include "receiver-service/custom_notification.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/ngsi_json.h"

namespace ngsi_bridge::receiver {

absl::Status ParseCustomNotification(absl::string_view body,
                                     v1::NgsiEvent* event) {
  if (absl::Status utf8 = common::ValidateUtf8(body); !utf8.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("custom notification body: ", utf8.message()));
  }
  event->set_format(v1::CUSTOM);
  // Not parsed even when it is JSON: the subscriber owns its meaning, and
  // the verbatim text keeps key order, spacing and number spelling.
  event->set_body(std::string(body));
  return absl::OkStatus();
}

}  // namespace ngsi_bridge::receiver
