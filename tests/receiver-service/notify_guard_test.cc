#include "receiver-service/notify_guard.h"

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/scratch_dir.h"

namespace ngsi_bridge::receiver {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// One scratch directory for the whole test binary, removed at exit.
const testing::ScratchDir& Scratch() {
  static const testing::ScratchDir dir;
  return dir;
}

std::string SecretFile(absl::string_view secret) {
  return Scratch().Write("notify-secret", absl::StrCat(secret, "\n"));
}

NotificationRequest WithHeader(const std::string& name,
                               const std::string& value) {
  NotificationRequest request;
  request.headers = {{"Content-Type", "application/json"}, {name, value}};
  return request;
}

TEST(NotifyGuardTest, SecretHeaderCheckedAndStripped) {
  NotifyGuard::Options options;
  options.secret_header = "X-Notify-Secret";
  options.secret_file = SecretFile("s3cr3t-value");
  auto guard = NotifyGuard::Create(options);
  ASSERT_TRUE(guard.ok()) << guard.status();
  NotificationRequest good = WithHeader("x-notify-secret", "s3cr3t-value");
  EXPECT_FALSE((*guard)->Admit("127.0.0.1", good).has_value());
  ASSERT_EQ(good.headers.size(), 1u);  // the secret is gone
  EXPECT_EQ(good.headers[0].first, "Content-Type");
  for (const char* wrong : {"s3cr3t-valu", "s3cr3t-value2", "", "S3CR3T-VALUE"}) {
    NotificationRequest request = WithHeader("X-Notify-Secret", wrong);
    std::optional<HttpAnswer> answer = (*guard)->Admit("127.0.0.1", request);
    ASSERT_TRUE(answer.has_value()) << wrong;
    EXPECT_EQ(answer->status, 401);
    EXPECT_THAT(answer->body, Not(HasSubstr("s3cr3t")));
  }
  NotificationRequest missing;
  EXPECT_EQ((*guard)->Admit("127.0.0.1", missing)->status, 401);
}

TEST(NotifyGuardTest, SourceNetworksComeFirst) {
  NotifyGuard::Options options;
  options.allow_cidrs = {"10.0.0.0/8", "::1"};
  auto guard = NotifyGuard::Create(options);
  ASSERT_TRUE(guard.ok()) << guard.status();
  NotificationRequest request;
  EXPECT_FALSE((*guard)->Admit("10.3.4.5", request).has_value());
  EXPECT_FALSE((*guard)->Admit("::1", request).has_value());
  std::optional<HttpAnswer> answer = (*guard)->Admit("192.168.1.1", request);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status, 403);
}

TEST(NotifyGuardTest, ReloadSwapsTheSecretAndKeepsItOnError) {
  NotifyGuard::Options options;
  options.secret_header = "X-S";
  options.secret_file = SecretFile("first-secret");
  auto guard = NotifyGuard::Create(options);
  ASSERT_TRUE(guard.ok());
  SecretFile("second-secret");
  ASSERT_TRUE((*guard)->Reload().ok());
  NotificationRequest old_one = WithHeader("X-S", "first-secret");
  EXPECT_TRUE((*guard)->Admit("1.2.3.4", old_one).has_value());
  NotificationRequest new_one = WithHeader("X-S", "second-secret");
  EXPECT_FALSE((*guard)->Admit("1.2.3.4", new_one).has_value());
  std::ofstream(options.secret_file, std::ios::trunc) << "\n";
  EXPECT_FALSE((*guard)->Reload().ok());
  NotificationRequest still = WithHeader("X-S", "second-secret");
  EXPECT_FALSE((*guard)->Admit("1.2.3.4", still).has_value());
}

TEST(NotifyGuardTest, BadOptionsFailTheStart) {
  NotifyGuard::Options header_only;
  header_only.secret_header = "X-S";
  EXPECT_EQ(NotifyGuard::Create(header_only).status().code(),
            absl::StatusCode::kInvalidArgument);
  NotifyGuard::Options bad_cidr;
  bad_cidr.allow_cidrs = {"300.0.0.0/8"};
  EXPECT_THAT(NotifyGuard::Create(bad_cidr).status().message(),
              HasSubstr("300.0.0.0/8"));
}

}  // namespace
}  // namespace ngsi_bridge::receiver
