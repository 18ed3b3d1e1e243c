// Both servers start on port 0 in-process and report SERVING through the
// standard gRPC health checking service, and answer their admin endpoints.
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "receiver-service/receiver_server.h"
#include "replier-service/replier_server.h"
#include "tests/testing/grpc_health_probe.h"

namespace ngsi_bridge {
namespace {

void ExpectAdminHealthy(int admin_port) {
  httplib::Client client("127.0.0.1", admin_port);
  auto healthz = client.Get("/healthz");
  ASSERT_TRUE(healthz);
  EXPECT_EQ(healthz->status, 200);
  auto readyz = client.Get("/readyz");
  ASSERT_TRUE(readyz);
  EXPECT_EQ(readyz->status, 200);
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
}

TEST(HealthTest, ReceiverReportsServingOnGrpcAndAdmin) {
  receiver::ReceiverConfig config;
  config.host = "127.0.0.1";
  config.http_port = config.grpc_port = config.admin_port = 0;
  config.line_listeners = {{0, "event-json"}};
  auto server = receiver::ReceiverServer::Create(config);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE((*server)->Start().ok());
  auto health = testing::CheckGrpcHealth(
      absl::StrCat("127.0.0.1:", (*server)->grpc_port()));
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, "SERVING");
  ExpectAdminHealthy((*server)->admin_port());
  (*server)->Shutdown();
}

TEST(HealthTest, ReplierReportsServingOnGrpcAndAdmin) {
  replier::ReplierConfig config;
  config.host = "127.0.0.1";
  config.grpc_port = config.admin_port = 0;
  auto server = replier::ReplierServer::Create(config);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE((*server)->Start().ok());
  auto health = testing::CheckGrpcHealth(
      absl::StrCat("127.0.0.1:", (*server)->grpc_port()));
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, "SERVING");
  ExpectAdminHealthy((*server)->admin_port());
  (*server)->Shutdown();
}

TEST(HealthTest, SecondServerOnATakenPortFailsToStart) {
  replier::ReplierConfig config;
  config.host = "127.0.0.1";
  config.grpc_port = config.admin_port = 0;
  auto first = replier::ReplierServer::Create(config);
  ASSERT_TRUE(first.ok() && (*first)->Start().ok());
  config.admin_port = (*first)->admin_port();
  auto second = replier::ReplierServer::Create(config);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ((*second)->Start().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace ngsi_bridge
