#include "common/security_flags.h"

#include <cstdint>
#include <string>

#include "absl/flags/flag.h"
#include "gtest/gtest.h"

// Flags of a pretend binary; every value differs so that a field read from
// the wrong flag shows.
ABSL_FLAG(std::string, sf_tls_cert, "cert.pem", "");
ABSL_FLAG(std::string, sf_tls_key, "key.pem", "");
ABSL_FLAG(std::string, sf_tls_client_ca, "ca.pem", "");
ABSL_FLAG(int32_t, sf_tls_refresh_seconds, 7, "");
ABSL_FLAG(std::string, sf_auth_token_file, "tokens.json", "");
ABSL_FLAG(std::string, sf_jwt_key_file, "jwt.pem", "");
ABSL_FLAG(std::string, sf_jwt_algorithm, "ES256", "");
ABSL_FLAG(std::string, sf_jwt_issuer, "issuer", "");
ABSL_FLAG(std::string, sf_jwt_audience, "audience", "");
ABSL_FLAG(int32_t, sf_max_streams_per_client, 3, "");

namespace ngsi_bridge::common {
namespace {

TEST(SecurityFlagsTest, ReadsEveryFieldFromItsFlag) {
  absl::SetFlag(&FLAGS_sf_jwt_issuer, "changed-issuer");
  const GrpcSecurityConfig config = GrpcSecurityConfigFromFlags(
      {&FLAGS_sf_tls_cert, &FLAGS_sf_tls_key, &FLAGS_sf_tls_client_ca,
       &FLAGS_sf_tls_refresh_seconds, &FLAGS_sf_auth_token_file,
       &FLAGS_sf_jwt_key_file, &FLAGS_sf_jwt_algorithm, &FLAGS_sf_jwt_issuer,
       &FLAGS_sf_jwt_audience, &FLAGS_sf_max_streams_per_client});
  EXPECT_EQ(config.tls_cert, "cert.pem");
  EXPECT_EQ(config.tls_key, "key.pem");
  EXPECT_EQ(config.tls_client_ca, "ca.pem");
  EXPECT_EQ(config.tls_refresh_seconds, 7);
  EXPECT_EQ(config.auth_token_file, "tokens.json");
  EXPECT_EQ(config.jwt_key_file, "jwt.pem");
  EXPECT_EQ(config.jwt_algorithm, "ES256");
  EXPECT_EQ(config.jwt_issuer, "changed-issuer");
  EXPECT_EQ(config.jwt_audience, "audience");
  EXPECT_EQ(config.max_streams_per_client, 3);
}

TEST(SecurityFlagsTest, KeepsTheDefaultOfAFlagTheBinaryLacks) {
  const GrpcSecurityConfig config = GrpcSecurityConfigFromFlags(
      {&FLAGS_sf_tls_cert, nullptr, nullptr, nullptr, nullptr, nullptr,
       nullptr, nullptr, nullptr, /*max_streams_per_client=*/nullptr});
  const GrpcSecurityConfig defaults;
  EXPECT_EQ(config.tls_cert, "cert.pem");
  EXPECT_EQ(config.jwt_algorithm, defaults.jwt_algorithm);
  EXPECT_EQ(config.tls_refresh_seconds, defaults.tls_refresh_seconds);
  EXPECT_EQ(config.max_streams_per_client, defaults.max_streams_per_client);
}

}  // namespace
}  // namespace ngsi_bridge::common
