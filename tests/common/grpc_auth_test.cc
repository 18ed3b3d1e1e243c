#include "common/grpc_auth.h"

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/auth_policy.h"
#include "common/stream_limiter.h"
#include "common/token_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/scratch_dir.h"

namespace ngsi_bridge::common {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kTokens[] = R"({"principals": [
  {"name": "spark-a", "token": "secret-token-a", "tenants": ["smartcity"],
   "rights": ["read"]},
  {"name": "writer", "token_sha256":
   "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08",
   "tenants": ["*"], "brokers": ["orion"], "rights": ["write"]}]})";

// One scratch directory for the whole test binary, removed at exit.
const testing::ScratchDir& Scratch() {
  static const testing::ScratchDir dir;
  return dir;
}

std::string TempFile(absl::string_view name, absl::string_view content) {
  return Scratch().Write(name, content);
}

TEST(TokenTableTest, FindsByPlainAndHashedTokens) {
  absl::StatusOr<TokenTable> table = TokenTable::Parse(kTokens, "t.json");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->size(), 2u);
  ASSERT_TRUE(table->Find("secret-token-a").has_value());
  EXPECT_EQ(table->Find("secret-token-a")->name, "spark-a");
  ASSERT_TRUE(table->Find("test").has_value());  // sha256("test")
  EXPECT_TRUE(table->Find("test")->can_write);
  EXPECT_FALSE(table->Find("secret-token-b").has_value());
}

TEST(TokenTableTest, ErrorsNeverQuoteTokens) {
  for (const char* text :
       {R"({"principals":[{"name":"a","token":"leaky-1","rights":["admin"]}]})",
        R"({"principals":[{"token":"leaky-1"}]})",
        R"({"principals":[{"name":"a","token":"leaky-1"},{"name":"b","token":"leaky-1"}]})",
        R"({"principals":[{"name":"a","token":"leaky-1","tenants":"x"}]})",
        R"(not json "leaky-1")"}) {
    absl::Status status = TokenTable::Parse(text, "t.json").status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(status.message(), Not(HasSubstr("leaky-1")));
  }
}

TEST(PrincipalTest, ChecksRightsTenantsAndBrokers) {
  Principal p{"p", {"a", "b"}, {"orion"}, true, false};
  EXPECT_TRUE(p.CheckRead("a").ok());
  EXPECT_EQ(p.CheckRead("c").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(p.CheckWrite("orion", "a").code(),
            absl::StatusCode::kPermissionDenied);
  p.can_write = true;
  EXPECT_TRUE(p.CheckWrite("orion", "a").ok());
  EXPECT_THAT(p.CheckWrite("other", "a").message(), HasSubstr("broker"));
  EXPECT_THAT(p.CheckWrite("orion", "").message(), HasSubstr("tenant ''"));
  Principal all{"all", {"*"}, {"*"}, true, true};
  EXPECT_TRUE(all.AllowsAllTenants());
  EXPECT_TRUE(all.CheckWrite("any", "").ok());
}

TEST(GrpcAuthenticatorTest, BearerHeaderAndReload) {
  const std::string path = TempFile("tokens.json", kTokens);
  GrpcAuthOptions options;
  options.token_file = path;
  auto auth = GrpcAuthenticator::Create(options);
  ASSERT_TRUE(auth.ok()) << auth.status();
  const absl::Time now = absl::Now();
  EXPECT_EQ((*auth)->AuthenticateHeader("Bearer secret-token-a", now)->name,
            "spark-a");
  EXPECT_TRUE((*auth)->AuthenticateHeader("bearer  secret-token-a ", now).ok());
  for (const char* bad : {"secret-token-a", "Basic secret-token-a", "Bearer ",
                          "Bearer nope", "Bearer a.b.c"}) {
    absl::Status status = (*auth)->AuthenticateHeader(bad, now).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << bad;
    EXPECT_THAT(status.message(), Not(HasSubstr("secret-token-a")));
  }
  // A reload that fails keeps the previous table.
  std::ofstream(path, std::ios::trunc) << "{broken";
  EXPECT_FALSE((*auth)->Reload().ok());
  EXPECT_TRUE((*auth)->AuthenticateHeader("Bearer secret-token-a", now).ok());
  std::ofstream(path, std::ios::trunc)
      << R"({"principals":[{"name":"n","token":"rotated","tenants":["*"],"rights":["read"]}]})";
  EXPECT_TRUE((*auth)->Reload().ok());
  EXPECT_FALSE((*auth)->AuthenticateHeader("Bearer secret-token-a", now).ok());
  EXPECT_TRUE((*auth)->AuthenticateHeader("Bearer rotated", now).ok());
}

TEST(GrpcAuthenticatorTest, NeedsSomething) {
  EXPECT_EQ(GrpcAuthenticator::Create({}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(StreamLimiterTest, BoundsStreamsPerKeyAndFreesOnRelease) {
  StreamLimiter limiter(2);
  auto a1 = limiter.Acquire("a");
  auto a2 = limiter.Acquire("a");
  ASSERT_TRUE(a1.ok() && a2.ok());
  EXPECT_EQ(limiter.Acquire("a").status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(limiter.Acquire("b").ok());  // released at once
  EXPECT_EQ(limiter.active("b"), 0);
  a1->reset();
  EXPECT_EQ(limiter.active("a"), 1);
  EXPECT_TRUE(limiter.Acquire("a").ok());
  EXPECT_EQ(PeerHost("ipv4:127.0.0.1:5555"), "ipv4:127.0.0.1");
  EXPECT_EQ(PeerHost("ipv6:[::1]:5555"), "ipv6:[::1]");
}

}  // namespace
}  // namespace ngsi_bridge::common
