// Both servers start on port 0 in-process and report SERVING through the
// standard gRPC health checking service, and answer their admin endpoints.
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "receiver-service/receiver_server.h"
#include "replier-service/replier_server.h"
#include "tests/testing/grpc_health_probe.h"
#include "tests/testing/local_servers.h"

namespace ngsi_bridge {
namespace {

// gRPC health says SERVING; /healthz, /readyz and /metrics answer 200.
void ExpectHealthy(int grpc_port, int admin_port) {
  auto health = testing::CheckGrpcHealth(absl::StrCat("127.0.0.1:", grpc_port));
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, "SERVING");
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
  auto server = testing::StartReceiver(testing::LocalReceiverConfig());
  ASSERT_NE(server, nullptr);
  ExpectHealthy(server->grpc_port(), server->admin_port());
  server->Shutdown();
}

TEST(HealthTest, ReplierReportsServingOnGrpcAndAdmin) {
  auto server = testing::StartReplier(testing::LocalReplierConfig());
  ASSERT_NE(server, nullptr);
  ExpectHealthy(server->grpc_port(), server->admin_port());
  server->Shutdown();
}

TEST(HealthTest, SecondServerOnATakenPortFailsToStart) {
  replier::ReplierConfig config = testing::LocalReplierConfig();
  auto first = testing::StartReplier(config);
  ASSERT_NE(first, nullptr);
  config.admin_port = first->admin_port();
  auto second = replier::ReplierServer::Create(config);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ((*second)->Start().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace ngsi_bridge
