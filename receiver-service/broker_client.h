#pragma once

#include <functional>
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

// How HttpBrokerTransport retries a call that got no answer or a 5xx.
struct BrokerRetryPolicy {
  int max_attempts = 3;  // 1 = no retry
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(2);
  // Waits between attempts; tests replace it to count retries without
  // waiting. Empty = absl::SleepFor.
  std::function<void(absl::Duration)> sleep;
};

// True for the methods a broker may receive twice without a different
// outcome: GET, HEAD, PUT, PATCH (a subscription PATCH sets members to
// given values) and DELETE (a second one may answer 404: the reconciler
// logs it, and its next pass finds the subscription gone).
bool IsIdempotentMethod(absl::string_view method);

// BrokerTransport over cpp-httplib: one short-lived connection per attempt.
// Retries with exponential backoff (full jitter), up to
// policy.max_attempts:
// - idempotent methods (IsIdempotentMethod) on any transport error
//   (connect, read, write, timeout: kUnavailable) and on 5xx answers;
// - other methods (POST creating a subscription) only when the connection
//   could not be made, i.e. nothing was sent: a POST whose answer was lost or
//   was a 5xx may have created the subscription, and a second one would
//   notify twice (the reconciler's next pass lists before it creates).
// After the last attempt the last answer (a 5xx is still an answer) or
// error is returned. The replier's pooled OrionClient is not reused: it is
// built around the replier's broker configuration and retry budget, and
// services do not include each other.
// Owned by ReceiverServer; thread-safe (no shared state).
class HttpBrokerTransport : public BrokerTransport {
 public:
  explicit HttpBrokerTransport(absl::Duration timeout,
                               BrokerRetryPolicy retry = {})
      : timeout_(timeout), retry_(std::move(retry)) {}
  // Blocks for the attempts and the backoff between them.
  absl::StatusOr<BrokerResponse> Send(absl::string_view base_url,
                                      const BrokerRequest& request) override;

 private:
  // One attempt. `sent` is false when the connection could not be made.
  absl::StatusOr<BrokerResponse> SendOnce(absl::string_view base_url,
                                          const BrokerRequest& request,
                                          bool* sent) const;

  const absl::Duration timeout_;
  const BrokerRetryPolicy retry_;
};

// "%"-encodes a query parameter value.
std::string UrlEncode(absl::string_view value);

}  // namespace ngsi_bridge::receiver
