#include "receiver-service/notification_parser.h"

namespace ngsi_bridge::receiver {

// TODO(parser): replaced by the real parser (issue 3).
absl::StatusOr<v1::NgsiEvent> ParseNotification(const NotificationRequest&,
                                                 const ParseLimits&) {
  return absl::UnimplementedError("notification parser not built yet");
}

}  // namespace ngsi_bridge::receiver
