// libFuzzer target: the receiver's notification parser over any headers
// (format, Link, Content-Type, Fiware-*) and body.
#include <cstddef>
#include <cstdint>

#include "receiver-service/notification_parser.h"
#include "tests/fuzz/fuzz_notification.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace nb = ngsi_bridge;
  const nb::receiver::NotificationRequest request =
      nb::fuzz::NotificationFromInput(data, size);
  nb::receiver::ParseLimits limits;
  limits.max_depth = 32;
  limits.max_entities = 1000;
  auto event = nb::receiver::ParseNotification(request, limits);
  if (event.ok()) {
    // Serializing walks every field the parser filled.
    std::string wire;
    event->SerializeToString(&wire);
  }
  return 0;
}
