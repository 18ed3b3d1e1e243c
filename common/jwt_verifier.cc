#include "common/jwt_verifier.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"

namespace ngsi_bridge::common {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<nlohmann::json> DecodeJsonPart(absl::string_view part,
                                              absl::string_view what) {
  std::string decoded;
  if (!absl::WebSafeBase64Unescape(part, &decoded)) {
    return absl::UnauthenticatedError(
        absl::StrCat("malformed token: ", what, " is not base64url"));
  }
  nlohmann::json doc = nlohmann::json::parse(decoded, /*cb=*/nullptr,
                                             /*allow_exceptions=*/false);
  if (!doc.is_object()) {
    return absl::UnauthenticatedError(
        absl::StrCat("malformed token: ", what, " is not a JSON object"));
  }
  return doc;
}

// A NumericDate claim; absent is nullopt-like (false), wrong type an error.
absl::StatusOr<bool> TimeClaim(const nlohmann::json& claims, const char* key,
                               absl::Time& out) {
  const auto it = claims.find(key);
  if (it == claims.end()) return false;
  if (!it->is_number()) {
    return absl::UnauthenticatedError(
        absl::StrCat("malformed token: \"", key, "\" is not a number"));
  }
  const double seconds = it->get<double>();
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 1e11) {
    return absl::UnauthenticatedError(
        absl::StrCat("malformed token: \"", key, "\" is out of range"));
  }
  out = absl::FromUnixSeconds(static_cast<int64_t>(seconds));
  return true;
}

absl::StatusOr<std::vector<std::string>> ListClaim(const nlohmann::json& claims,
                                                   const char* key) {
  std::vector<std::string> values;
  const auto it = claims.find(key);
  if (it == claims.end()) return values;
  if (it->is_string()) {
    return std::vector<std::string>(absl::StrSplit(
        it->get<std::string>(), ' ', absl::SkipEmpty()));
  }
  if (!it->is_array()) {
    return absl::UnauthenticatedError(
        absl::StrCat("malformed token: \"", key, "\" is not a list"));
  }
  for (const nlohmann::json& value : *it) {
    if (!value.is_string()) {
      return absl::UnauthenticatedError(absl::StrCat(
          "malformed token: \"", key, "\" holds a non-string"));
    }
    values.push_back(value.get<std::string>());
  }
  return values;
}

// JWS ES256 signatures are r || s (32 bytes each); OpenSSL verifies DER.
absl::StatusOr<std::string> EcdsaRawToDer(const std::string& raw) {
  if (raw.size() != 64) {
    return absl::UnauthenticatedError("bad token signature");
  }
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(bytes, 32, nullptr);
  BIGNUM* s = BN_bin2bn(bytes + 32, 32, nullptr);
  if (sig == nullptr || r == nullptr || s == nullptr ||
      ECDSA_SIG_set0(sig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return absl::InternalError("cannot build an ECDSA signature");
  }
  unsigned char* der = nullptr;
  const int length = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (length <= 0) return absl::InternalError("cannot encode an ECDSA signature");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  return out;
}

}  // namespace

JwtVerifier::JwtVerifier(const JwtOptions& options) : options_(options) {}

JwtVerifier::~JwtVerifier() { EVP_PKEY_free(public_key_); }

absl::StatusOr<std::unique_ptr<JwtVerifier>> JwtVerifier::Create(
    const JwtOptions& options) {
  std::unique_ptr<JwtVerifier> verifier(new JwtVerifier(options));
  absl::StatusOr<std::string> key = ReadFile(options.key_file);
  if (!key.ok()) {
    return absl::NotFoundError(
        absl::StrCat("cannot read JWT key file ", options.key_file));
  }
  if (options.algorithm == "HS256") {
    absl::string_view trimmed = *key;
    while (absl::ConsumeSuffix(&trimmed, "\n") ||
           absl::ConsumeSuffix(&trimmed, "\r")) {
    }
    if (trimmed.size() < 32) {
      return absl::InvalidArgumentError(absl::StrCat(
          "JWT key file ", options.key_file,
          " holds fewer than 32 bytes (too weak for HS256)"));
    }
    verifier->hmac_key_ = std::string(trimmed);
    return verifier;
  }
  if (options.algorithm != "RS256" && options.algorithm != "ES256") {
    return absl::InvalidArgumentError(absl::StrCat(
        "JWT algorithm '", options.algorithm, "' is not HS256, RS256 or ES256"));
  }
  BIO* bio = BIO_new_mem_buf(key->data(), static_cast<int>(key->size()));
  EVP_PKEY* pkey = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  if (pkey == nullptr) {
    // A certificate instead of a bare key.
    BIO_free(bio);
    bio = BIO_new_mem_buf(key->data(), static_cast<int>(key->size()));
    X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    if (cert != nullptr) pkey = X509_get_pubkey(cert);
    X509_free(cert);
  }
  BIO_free(bio);
  if (pkey == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "JWT key file ", options.key_file,
        " holds no PEM public key or certificate"));
  }
  verifier->public_key_ = pkey;
  const int type = EVP_PKEY_base_id(pkey);
  if ((options.algorithm == "RS256" && type != EVP_PKEY_RSA) ||
      (options.algorithm == "ES256" && type != EVP_PKEY_EC)) {
    return absl::InvalidArgumentError(
        absl::StrCat("JWT key file ", options.key_file,
                     " does not hold a key for ", options.algorithm));
  }
  return verifier;
}

absl::Status JwtVerifier::CheckSignature(absl::string_view signed_part,
                                         const std::string& signature) const {
  const auto* data = reinterpret_cast<const unsigned char*>(signed_part.data());
  if (options_.algorithm == "HS256") {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_length = 0;
    if (HMAC(EVP_sha256(), hmac_key_.data(),
             static_cast<int>(hmac_key_.size()), data, signed_part.size(), mac,
             &mac_length) == nullptr) {
      return absl::InternalError("HMAC failed");
    }
    if (signature.size() != mac_length ||
        CRYPTO_memcmp(mac, signature.data(), mac_length) != 0) {
      return absl::UnauthenticatedError("bad token signature");
    }
    return absl::OkStatus();
  }
  std::string der = signature;
  if (options_.algorithm == "ES256") {
    absl::StatusOr<std::string> converted = EcdsaRawToDer(signature);
    if (!converted.ok()) return converted.status();
    der = *std::move(converted);
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool valid =
      ctx != nullptr &&
      EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, public_key_) ==
          1 &&
      EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(der.data()),
                       der.size(), data, signed_part.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!valid) return absl::UnauthenticatedError("bad token signature");
  return absl::OkStatus();
}

absl::StatusOr<Principal> JwtVerifier::Verify(absl::string_view token,
                                              absl::Time now) const {
  const std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3 || parts[0].empty() || parts[1].empty()) {
    return absl::UnauthenticatedError(
        "malformed token: not a JWT (header.payload.signature)");
  }
  absl::StatusOr<nlohmann::json> header = DecodeJsonPart(parts[0], "header");
  if (!header.ok()) return header.status();
  const auto alg = header->find("alg");
  if (alg == header->end() || !alg->is_string() ||
      alg->get<std::string>() != options_.algorithm) {
    return absl::UnauthenticatedError(absl::StrCat(
        "token algorithm is not the configured ", options_.algorithm));
  }
  std::string signature;
  if (!absl::WebSafeBase64Unescape(parts[2], &signature) ||
      signature.empty()) {
    return absl::UnauthenticatedError("malformed token: bad signature encoding");
  }
  const absl::string_view signed_part(
      parts[0].data(), parts[0].size() + 1 + parts[1].size());
  if (absl::Status status = CheckSignature(signed_part, signature);
      !status.ok()) {
    return status;
  }
  // Claims are only trusted once the signature holds.
  absl::StatusOr<nlohmann::json> claims = DecodeJsonPart(parts[1], "payload");
  if (!claims.ok()) return claims.status();

  absl::Time exp;
  absl::StatusOr<bool> has_exp = TimeClaim(*claims, "exp", exp);
  if (!has_exp.ok()) return has_exp.status();
  if (!*has_exp) return absl::UnauthenticatedError("token has no \"exp\"");
  if (now > exp + options_.leeway) {
    return absl::UnauthenticatedError(
        absl::StrCat("token expired at ", absl::FormatTime(exp)));
  }
  absl::Time nbf;
  absl::StatusOr<bool> has_nbf = TimeClaim(*claims, "nbf", nbf);
  if (!has_nbf.ok()) return has_nbf.status();
  if (*has_nbf && now + options_.leeway < nbf) {
    return absl::UnauthenticatedError(
        absl::StrCat("token not valid before ", absl::FormatTime(nbf)));
  }
  if (!options_.issuer.empty()) {
    const auto iss = claims->find("iss");
    if (iss == claims->end() || !iss->is_string() ||
        iss->get<std::string>() != options_.issuer) {
      return absl::UnauthenticatedError("token issuer is not the expected one");
    }
  }
  if (!options_.audience.empty()) {
    absl::StatusOr<std::vector<std::string>> audiences =
        ListClaim(*claims, "aud");
    if (!audiences.ok()) return audiences.status();
    if (std::find(audiences->begin(), audiences->end(), options_.audience) ==
        audiences->end()) {
      return absl::UnauthenticatedError(
          "token audience does not include this service");
    }
  }

  Principal principal;
  const auto sub = claims->find("sub");
  principal.name = sub != claims->end() && sub->is_string()
                       ? sub->get<std::string>()
                       : "jwt";
  absl::StatusOr<std::vector<std::string>> tenants =
      ListClaim(*claims, "tenants");
  if (!tenants.ok()) return tenants.status();
  principal.tenants = *std::move(tenants);
  absl::StatusOr<std::vector<std::string>> brokers =
      ListClaim(*claims, "brokers");
  if (!brokers.ok()) return brokers.status();
  principal.brokers = *std::move(brokers);
  absl::StatusOr<std::vector<std::string>> rights =
      claims->contains("rights") ? ListClaim(*claims, "rights")
                                 : ListClaim(*claims, "scope");
  if (!rights.ok()) return rights.status();
  // Scopes meant for other services are not ours to reject.
  for (const std::string& right : *rights) {
    Principal probe;
    if (ApplyRights({right}, probe).ok()) {
      principal.can_read = principal.can_read || probe.can_read;
      principal.can_write = principal.can_write || probe.can_write;
    }
  }
  return principal;
}

}  // namespace ngsi_bridge::common
