#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "ngsi_bridge/v1/ngsi.pb.h"

namespace ngsi_bridge::replier {

// One broker the replier may write to. Requests name it; they never carry a
// URL, so the replier only ever calls what is configured here.
struct BrokerConfig {
  std::string name;
  std::string url;  // base URL, http:// or https://, no trailing slash
  v1::Flavor flavor = v1::NGSI_V2;
};

// Everything ngsi-replier is configured with; filled from flags (and their
// NGSI_REPLIER_* twins) by main.cc. Plain value type.
struct ReplierConfig {
  std::string host = "0.0.0.0";
  int grpc_port = 50052;
  int admin_port = 9091;
  std::vector<BrokerConfig> brokers;

  // kInvalidArgument naming the field and value when something is off.
  absl::Status Validate() const;
};

// Parses a --broker value: NAME=URL[,flavor=v2|ld].
absl::Status ParseBroker(const std::string& text, BrokerConfig& out);

}  // namespace ngsi_bridge::replier
