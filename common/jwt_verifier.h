#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/auth_policy.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace ngsi_bridge::common {

struct JwtOptions {
  std::string algorithm;  // HS256, RS256 or ES256; a token must use it
  // HS256: a file holding the shared key (trailing newline ignored).
  // RS256 / ES256: a PEM public key (or certificate) file.
  std::string key_file;
  std::string issuer;    // "" = not checked; else "iss" must equal it
  std::string audience;  // "" = not checked; else "aud" must contain it
  absl::Duration leeway = absl::Seconds(30);  // clock skew for exp / nbf
};

// Verifies JSON Web Tokens (compact JWS) and maps their claims to a
// Principal: "sub" → name, "tenants" and "brokers" (arrays of strings,
// "*" for any), rights from "rights" (array) or "scope" (space-separated:
// read, write, ngsi:read, ngsi:write). "exp" is required. The header's "alg"
// must be the configured one ("none" never is), so a token cannot pick a
// weaker check. Immutable after Create(): thread-safe.
class JwtVerifier {
 public:
  // kInvalidArgument for an unknown algorithm or a key that does not fit it;
  // kNotFound when the key file cannot be read. Never quotes key material.
  static absl::StatusOr<std::unique_ptr<JwtVerifier>> Create(
      const JwtOptions& options);
  ~JwtVerifier();

  // The principal of a valid `token` at `now`. kUnauthenticated with a
  // message saying why (malformed, bad signature, expired at ..., not valid
  // before ..., wrong issuer or audience); the message never quotes the
  // token or its signature.
  absl::StatusOr<Principal> Verify(absl::string_view token,
                                   absl::Time now) const;

 private:
  explicit JwtVerifier(const JwtOptions& options);
  absl::Status CheckSignature(absl::string_view signed_part,
                              const std::string& signature) const;

  const JwtOptions options_;
  std::string hmac_key_;
  EVP_PKEY* public_key_ = nullptr;
};

}  // namespace ngsi_bridge::common
