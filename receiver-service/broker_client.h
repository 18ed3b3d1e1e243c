#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace ngsi_bridge::receiver {

using BrokerHeaders = std::vector<std::pair<std::string, std::string>>;

// One call to a broker's REST API (subscriptions, entity queries).
struct BrokerRequest {
  std::string method = "GET";
  std::string path;   // "/v2/subscriptions", appended to the base URL's path
  std::string query;  // already %-encoded, without '?'
  BrokerHeaders headers;
  std::string body;
  std::string content_type;  // "" when there is no body
};

struct BrokerResponse {
  int status = 0;
  BrokerHeaders headers;
  std::string body;

  // The first header named `name` (case-insensitive), "" when absent.
  std::string Header(absl::string_view name) const;
};

// How the receiver talks to brokers. An interface so that the reconciler
// and the backfill can be tested against an in-memory broker. Implementations
// are thread-safe.
class BrokerTransport {
 public:
  virtual ~BrokerTransport() = default;
  // Sends `request` to the broker at `base_url` ("http://orion:1026") and
  // returns its answer whatever the status; kUnavailable when no answer
  // came (connection refused, reset, timeout). Blocks.
  virtual absl::StatusOr<BrokerResponse> Send(absl::string_view base_url,
                                              const BrokerRequest& request) = 0;
};

// BrokerTransport over cpp-httplib: one short-lived connection per call,
// no retries (the reconciler's next pass is the retry). The replier's
// pooled OrionClient is not reused: it is built around the replier's broker
// configuration and retry budget, and services do not include each other.
// Owned by ReceiverServer; thread-safe (no shared state).
class HttpBrokerTransport : public BrokerTransport {
 public:
  explicit HttpBrokerTransport(absl::Duration timeout) : timeout_(timeout) {}
  absl::StatusOr<BrokerResponse> Send(absl::string_view base_url,
                                      const BrokerRequest& request) override;

 private:
  const absl::Duration timeout_;
};

// "%"-encodes a query parameter value.
std::string UrlEncode(absl::string_view value);

}  // namespace ngsi_bridge::receiver
