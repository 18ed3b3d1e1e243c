#pragma once

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/auth_policy.h"

namespace ngsi_bridge::common {

// The static bearer tokens of --auth_token_file, a JSON file:
//   {"principals": [{"name": "spark-a", "token": "...",  // or "token_sha256"
//                    "tenants": ["smartcity"], "brokers": ["orion"],
//                    "rights": ["read", "write"]}]}
// Tokens are kept only as SHA-256 digests, so a lookup compares digests (no
// timing signal about the token) and a dump of memory or of this table shows
// no token. Immutable after Load(): thread-safe.
class TokenTable {
 public:
  // kNotFound / kInvalidArgument naming the file and the entry (never a
  // token) when it cannot be read or an entry is malformed.
  static absl::StatusOr<TokenTable> Load(const std::string& path);
  // Same, from the file's text (`origin` names it in errors).
  static absl::StatusOr<TokenTable> Parse(absl::string_view text,
                                          absl::string_view origin);

  // The principal `token` stands for, if any.
  std::optional<Principal> Find(absl::string_view token) const;
  size_t size() const { return by_digest_.size(); }

 private:
  std::map<std::string, Principal> by_digest_;  // hex SHA-256 → principal
};

// The secret held in `path` (the value of --`flag`), a trailing newline
// ignored. kNotFound when unreadable, kInvalidArgument when empty; errors
// name the flag and the file, never the content.
absl::StatusOr<std::string> ReadSecretFile(const std::string& path,
                                           absl::string_view flag);

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(absl::string_view data);

}  // namespace ngsi_bridge::common
