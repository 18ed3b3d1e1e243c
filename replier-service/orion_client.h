#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/metrics.h"
#include "replier-service/broker_token_source.h"
#include "replier-service/replier_config.h"

namespace httplib {
class Client;
}

namespace ngsi_bridge::replier {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// One HTTP request to a broker. `path` is relative to the broker's base URL
// (it starts with '/'; the client prefixes the base URL's own path).
struct HttpCall {
  std::string method = "POST";
  std::string path;
  std::string query;  // without '?'
  HttpHeaders headers;
  std::string body;
  std::string content_type;  // "" when there is no body
  // False for a call the broker must not receive twice (a non-idempotent
  // passthrough): it is then retried only when it was certainly not sent
  // (the connection could not be made), never after a 5xx, 429, read error
  // or timeout.
  bool retry_after_sent = true;
};

struct HttpAnswer {
  int status = 0;
  HttpHeaders headers;
  std::string body;
  int attempts = 0;
  // An earlier attempt failed after the request may have reached the
  // broker (read error or timeout): the answer may reflect a second
  // application of the request.
  bool earlier_attempt_may_have_applied = false;
};

// The HTTP client of one configured broker: a pool of at most
// max_connections keep-alive connections (httplib::Client, one user at a
// time), the broker's credentials, timeouts and retries. Owned by
// BatchWriter; thread-safe. Send() blocks, so it only runs on BatchWriter's
// worker threads, never on gRPC callback threads.
class OrionClient {
 public:
  // kInvalidArgument for a URL httplib cannot use.
  static absl::StatusOr<std::unique_ptr<OrionClient>> Create(
      const BrokerConfig& broker, const RetryConfig& retry,
      common::MetricsRegistry* metrics);
  ~OrionClient();

  // Sends `call` with the broker's credentials (an OAuth2 token is fetched
  // when none is cached, and once more on a 401), retrying timeouts,
  // connection errors, 429 and 5xx with exponential backoff and jitter
  // (Retry-After honoured) while the deadline, max_attempts and the
  // broker's retry budget allow; never retries other statuses (and with
  // `call.retry_after_sent` false, only connection failures). Returns the
  // last HTTP answer whatever its status, or, when no answer came,
  // kUnavailable (connection failures), kDeadlineExceeded (timeouts or the
  // deadline passed), kUnavailable after Shutdown(). Blocks.
  absl::StatusOr<HttpAnswer> Send(const HttpCall& call, absl::Time deadline);

  // Wakes retry sleeps and pool waiters; later Send()s fail. Idempotent.
  void Shutdown();

  const BrokerConfig& config() const { return broker_; }

 private:
  OrionClient(const BrokerConfig& broker, const RetryConfig& retry,
              std::string origin, std::string base_path,
              common::MetricsRegistry* metrics);

  std::unique_ptr<httplib::Client> Acquire(absl::Time deadline);
  void Release(std::unique_ptr<httplib::Client> client, bool reusable);
  bool TakeRetryToken();
  void EarnRetryToken();
  absl::Duration Backoff(int attempt);

  const BrokerConfig broker_;
  const RetryConfig retry_;
  const std::string origin_;     // scheme://host:port
  const std::string base_path_;  // path of the base URL, "" or "/orion"
  common::MetricsRegistry* const metrics_;
  common::Gauge& in_flight_;
  common::Gauge& pool_in_use_;
  common::Gauge& pool_open_;
  common::Histogram& latency_;
  absl::Notification shutdown_;
  // OAuth2 client credentials; null for static or no credentials.
  std::unique_ptr<BrokerTokenSource> token_source_;

  absl::Mutex mu_;
  std::vector<std::unique_ptr<httplib::Client>> idle_ ABSL_GUARDED_BY(mu_);
  int in_use_ ABSL_GUARDED_BY(mu_) = 0;
  double retry_tokens_ ABSL_GUARDED_BY(mu_);
  std::mt19937_64 random_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ngsi_bridge::replier
