#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace ngsi_bridge::receiver {

// One TCP line listener: a port and the line format it writes.
struct LineListenerConfig {
  int port = 0;
  std::string format = "event-json";  // event-json | fpc | body
};

// Everything ngsi-receiver is configured with; filled from flags (and their
// NGSI_RECEIVER_* environment twins) by main.cc. Plain value type.
struct ReceiverConfig {
  std::string host = "0.0.0.0";
  int http_port = 8061;
  int grpc_port = 50051;
  int admin_port = 9090;
  std::vector<LineListenerConfig> line_listeners = {{9998, "event-json"}};

  // kInvalidArgument naming the field and value when something is off.
  absl::Status Validate() const;
};

// Parses "PORT:FORMAT" (a --line_listener value).
absl::Status ParseLineListener(const std::string& text,
                               LineListenerConfig& out);

}  // namespace ngsi_bridge::receiver
