#include "common/jwt_verifier.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/scratch_dir.h"

namespace ngsi_bridge::common {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSecret[] = "0123456789abcdef0123456789abcdef-hs";
const absl::Time kNow = absl::FromUnixSeconds(1800000000);

std::string B64(absl::string_view data) {
  std::string out;
  absl::WebSafeBase64Escape(data, &out);
  return out;
}

std::string Claims(int64_t exp, absl::string_view extra = "") {
  return absl::StrCat(R"({"sub":"spark","tenants":["smartcity"],)",
                      R"("brokers":["orion"],"scope":"ngsi:read other",)",
                      R"("exp":)", exp, extra, "}");
}

std::string SignHs256(absl::string_view header, absl::string_view claims,
                      absl::string_view key = kSecret) {
  const std::string signing = absl::StrCat(B64(header), ".", B64(claims));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(signing.data()), signing.size(),
       mac, &length);
  return absl::StrCat(
      signing, ".",
      B64(absl::string_view(reinterpret_cast<char*>(mac), length)));
}

// One scratch directory for the whole test binary, removed at exit.
const testing::ScratchDir& Scratch() {
  static const testing::ScratchDir dir;
  return dir;
}

std::string TempFile(absl::string_view name, absl::string_view content) {
  return Scratch().Write(name, content);
}

std::unique_ptr<JwtVerifier> Hs256Verifier(JwtOptions options = {}) {
  options.algorithm = "HS256";
  options.key_file = TempFile("hs.key", absl::StrCat(kSecret, "\n"));
  auto verifier = JwtVerifier::Create(options);
  EXPECT_TRUE(verifier.ok()) << verifier.status();
  return *std::move(verifier);
}

// Signs with an asymmetric key (RS256 PKCS#1 v1.5 or ES256 raw r||s).
std::string SignAsymmetric(EVP_PKEY* key, absl::string_view alg,
                           absl::string_view claims) {
  const std::string signing = absl::StrCat(
      B64(absl::StrCat(R"({"alg":")", alg, R"(","typ":"JWT"})")), ".",
      B64(claims));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t length = 0;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
  EVP_DigestSign(ctx, nullptr, &length,
                 reinterpret_cast<const unsigned char*>(signing.data()),
                 signing.size());
  std::string signature(length, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()),
                 &length,
                 reinterpret_cast<const unsigned char*>(signing.data()),
                 signing.size());
  EVP_MD_CTX_free(ctx);
  signature.resize(length);
  if (alg == "ES256") {
    const auto* der = reinterpret_cast<const unsigned char*>(signature.data());
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &der, signature.size());
    if (sig == nullptr) {  // signed by a non-EC key: any 64 bytes do
      return absl::StrCat(signing, ".", B64(std::string(64, 'x')));
    }
    unsigned char raw[64];
    BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32);
    ECDSA_SIG_free(sig);
    signature.assign(reinterpret_cast<char*>(raw), 64);
  }
  return absl::StrCat(signing, ".", B64(signature));
}

std::string PublicPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(length));
  BIO_free(bio);
  return pem;
}

TEST(JwtVerifierTest, Hs256MapsClaimsToPrincipal) {
  auto verifier = Hs256Verifier();
  const std::string token = SignHs256(R"({"alg":"HS256","typ":"JWT"})",
                                      Claims(absl::ToUnixSeconds(kNow) + 60));
  absl::StatusOr<Principal> principal = verifier->Verify(token, kNow);
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_EQ(principal->name, "spark");
  EXPECT_EQ(principal->tenants, std::vector<std::string>{"smartcity"});
  EXPECT_EQ(principal->brokers, std::vector<std::string>{"orion"});
  EXPECT_TRUE(principal->can_read);
  EXPECT_FALSE(principal->can_write);
}

TEST(JwtVerifierTest, ExpiredTokenSaysWhen) {
  auto verifier = Hs256Verifier();
  const std::string token = SignHs256(R"({"alg":"HS256"})",
                                      Claims(absl::ToUnixSeconds(kNow) - 31));
  absl::StatusOr<Principal> principal = verifier->Verify(token, kNow);
  EXPECT_EQ(principal.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(principal.status().message(), HasSubstr("expired at"));
  // Within the 30 s leeway it still passes.
  EXPECT_TRUE(verifier
                  ->Verify(SignHs256(R"({"alg":"HS256"})",
                                     Claims(absl::ToUnixSeconds(kNow) - 29)),
                           kNow)
                  .ok());
}

TEST(JwtVerifierTest, RejectsForgedAlgNoneMissingExpAndNotYetValid) {
  auto verifier = Hs256Verifier();
  const int64_t exp = absl::ToUnixSeconds(kNow) + 60;
  const std::string forged =
      SignHs256(R"({"alg":"HS256"})", Claims(exp), "another-key-of-32-bytes-or-more!!");
  EXPECT_EQ(verifier->Verify(forged, kNow).status().code(),
            absl::StatusCode::kUnauthenticated);
  const std::string none = absl::StrCat(B64(R"({"alg":"none"})"), ".",
                                        B64(Claims(exp)), ".");
  EXPECT_EQ(verifier->Verify(none, kNow).status().code(),
            absl::StatusCode::kUnauthenticated);
  const std::string no_exp =
      SignHs256(R"({"alg":"HS256"})", R"({"sub":"x","tenants":["*"]})");
  EXPECT_THAT(verifier->Verify(no_exp, kNow).status().message(),
              HasSubstr("exp"));
  const std::string early = SignHs256(
      R"({"alg":"HS256"})",
      Claims(exp, absl::StrCat(R"(,"nbf":)", absl::ToUnixSeconds(kNow) + 600)));
  EXPECT_THAT(verifier->Verify(early, kNow).status().message(),
              HasSubstr("not valid before"));
  // A tampered payload fails the signature.
  std::string tampered = SignHs256(R"({"alg":"HS256"})", Claims(exp));
  const size_t dot = tampered.find('.');
  tampered.replace(dot + 1, tampered.find('.', dot + 1) - dot - 1,
                   B64(R"({"sub":"x","tenants":["*"],"exp":9999999999})"));
  EXPECT_EQ(verifier->Verify(tampered, kNow).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(JwtVerifierTest, ChecksIssuerAndAudience) {
  JwtOptions options;
  options.issuer = "https://keyrock";
  options.audience = "ngsi-bridge";
  auto verifier = Hs256Verifier(options);
  const int64_t exp = absl::ToUnixSeconds(kNow) + 60;
  EXPECT_TRUE(
      verifier
          ->Verify(SignHs256(R"({"alg":"HS256"})",
                             Claims(exp, R"(,"iss":"https://keyrock","aud":["x","ngsi-bridge"])")),
                   kNow)
          .ok());
  EXPECT_FALSE(verifier
                   ->Verify(SignHs256(R"({"alg":"HS256"})",
                                      Claims(exp, R"(,"iss":"evil","aud":"ngsi-bridge")")),
                            kNow)
                   .ok());
  EXPECT_FALSE(verifier
                   ->Verify(SignHs256(R"({"alg":"HS256"})",
                                      Claims(exp, R"(,"iss":"https://keyrock","aud":"other")")),
                            kNow)
                   .ok());
}

TEST(JwtVerifierTest, Rs256AndEs256WithPemPublicKeys) {
  const int64_t exp = absl::ToUnixSeconds(kNow) + 60;
  EVP_PKEY* rsa = EVP_RSA_gen(2048);
  EVP_PKEY* ec = EVP_EC_gen("P-256");
  ASSERT_NE(rsa, nullptr);
  ASSERT_NE(ec, nullptr);
  for (auto [alg, key, other] : {std::make_tuple("RS256", rsa, ec),
                                 std::make_tuple("ES256", ec, rsa)}) {
    JwtOptions options;
    options.algorithm = alg;
    options.key_file = TempFile(absl::StrCat(alg, ".pem"), PublicPem(key));
    auto verifier = JwtVerifier::Create(options);
    ASSERT_TRUE(verifier.ok()) << verifier.status();
    EXPECT_TRUE((*verifier)->Verify(SignAsymmetric(key, alg, Claims(exp)), kNow).ok())
        << alg;
    // The same claims signed by a key of the other kind, and an HS256 token
    // keyed with the public PEM (the classic confusion), are refused.
    EXPECT_FALSE((*verifier)
                     ->Verify(SignAsymmetric(other, alg, Claims(exp)), kNow)
                     .ok());
    EXPECT_FALSE((*verifier)
                     ->Verify(SignHs256(R"({"alg":"HS256"})", Claims(exp),
                                        PublicPem(key)),
                              kNow)
                     .ok());
    // A key of the wrong type for the algorithm fails the start.
    options.key_file = TempFile(absl::StrCat(alg, "-other.pem"), PublicPem(other));
    EXPECT_EQ(JwtVerifier::Create(options).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  EVP_PKEY_free(rsa);
  EVP_PKEY_free(ec);
}

TEST(JwtVerifierTest, ShortHmacKeyAndUnknownAlgorithmFailTheStart) {
  JwtOptions options;
  options.algorithm = "HS256";
  options.key_file = TempFile("short.key", "short");
  absl::Status status = JwtVerifier::Create(options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), Not(HasSubstr("short\"")));
  options.algorithm = "none";
  EXPECT_FALSE(JwtVerifier::Create(options).ok());
}

TEST(JwtVerifierTest, GarbageNeverCrashes) {
  auto verifier = Hs256Verifier();
  for (const char* token :
       {"", ".", "..", "a.b.c", "e30.e30.", "e30.e30.AAAA", "!!!.???.***",
        "eyJhbGciOiJIUzI1NiJ9..", "eyJhbGciOiJIUzI1NiJ9.W10.AAAA"}) {
    EXPECT_EQ(verifier->Verify(token, kNow).status().code(),
              absl::StatusCode::kUnauthenticated)
        << token;
  }
}

}  // namespace
}  // namespace ngsi_bridge::common
