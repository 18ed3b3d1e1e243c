#pragma once

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "replier-service/replier_config.h"

namespace ngsi_bridge::replier {

// OAuth2 client-credentials access tokens for one broker (Keyrock style):
// POST token_url with "Authorization: Basic base64(id:secret)" and
// "grant_type=client_credentials"; the answer's access_token is cached
// until a minute before expires_in. Owned by OrionClient; thread-safe
// (one fetch at a time, others wait for it). Messages never carry the
// secret or a token.
class BrokerTokenSource {
 public:
  // kInvalidArgument for a bad token URL; kNotFound for an unreadable
  // client_secret_file.
  static absl::StatusOr<std::unique_ptr<BrokerTokenSource>> Create(
      const BrokerConfig& broker);

  // A valid access token, fetched when none is cached (blocks on the
  // token endpoint, at most until `deadline`). kUnavailable /
  // kDeadlineExceeded when the endpoint cannot be reached,
  // kPermissionDenied when it refuses the client.
  absl::StatusOr<std::string> Token(absl::Time deadline);
  // Forgets `token` (the broker answered 401 to it): the next Token()
  // fetches a new one unless another caller already did.
  void Invalidate(const std::string& token);

  int fetch_count() const;

 private:
  BrokerTokenSource(const BrokerConfig& broker, std::string secret,
                    std::string origin, std::string path);
  absl::StatusOr<std::string> Fetch(absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const BrokerConfig broker_;
  const std::string secret_;
  const std::string origin_;  // scheme://host:port of token_url
  const std::string path_;
  mutable absl::Mutex mu_;
  std::string token_ ABSL_GUARDED_BY(mu_);
  absl::Time expires_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int fetches_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ngsi_bridge::replier
