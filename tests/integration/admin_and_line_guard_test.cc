// The guards of the ports that cannot use gRPC authentication: the admin
// port's optional bearer token (probes stay open) on both services, and the
// source-network allow-list of the receiver's line listeners. Sources
// differ by binding the client to 127.0.0.2 (all of 127/8 is loopback).
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "receiver-service/receiver_server.h"
#include "replier-service/replier_server.h"
#include "tests/testing/local_servers.h"
#include "tests/testing/scratch_dir.h"
#include "tests/testing/tcp_client.h"

namespace ngsi_bridge {
namespace {

constexpr char kToken[] = "admin-token-5e1d0c";

int Status(int port, const std::string& path, const std::string& token = "") {
  httplib::Client client("127.0.0.1", port);
  httplib::Headers headers;
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  auto response = client.Get(path.c_str(), headers);
  return response ? response->status : -1;
}

void ExpectGuarded(int port, const std::string& token) {
  EXPECT_EQ(Status(port, "/healthz"), 200);
  EXPECT_EQ(Status(port, "/readyz"), 200);
  EXPECT_EQ(Status(port, "/metrics"), 401);
  EXPECT_EQ(Status(port, "/metrics", "wrong"), 401);
  EXPECT_EQ(Status(port, "/metrics", token + "x"), 401);
  EXPECT_EQ(Status(port, "/metrics", token), 200);
}

TEST(AdminTokenTest, ReceiverProbesStayOpenTheRestWantsTheToken) {
  testing::ScratchDir dir;
  receiver::ReceiverConfig config = testing::LocalReceiverConfig();
  config.admin_token_file =
      dir.Write("admin.token", absl::StrCat(kToken, "\n"));
  auto server = testing::StartReceiver(config);
  ASSERT_NE(server, nullptr);
  ExpectGuarded(server->admin_port(), kToken);
  EXPECT_EQ(Status(server->admin_port(), "/subscriptions"), 401);
  EXPECT_EQ(Status(server->admin_port(), "/subscriptions", kToken), 200);
  server->Shutdown();
}

TEST(AdminTokenTest, ReplierTokenIsReloadedOnSighup) {
  testing::ScratchDir dir;
  replier::ReplierConfig config = testing::LocalReplierConfig();
  config.admin_token_file = dir.Write("admin.token", kToken);
  auto server = testing::StartReplier(config);
  ASSERT_NE(server, nullptr);
  ExpectGuarded(server->admin_port(), kToken);
  dir.Write("admin.token", "rotated-token-77");
  server->ReloadCredentials();  // what SIGHUP does
  EXPECT_EQ(Status(server->admin_port(), "/metrics", kToken), 401);
  EXPECT_EQ(Status(server->admin_port(), "/metrics", "rotated-token-77"), 200);
  // A file that went bad keeps the token that worked.
  dir.Write("admin.token", "");
  server->ReloadCredentials();
  EXPECT_EQ(Status(server->admin_port(), "/metrics", "rotated-token-77"), 200);
  server->Shutdown();
}

TEST(AdminTokenTest, UnreadableTokenFileFailsTheStart) {
  receiver::ReceiverConfig config = testing::LocalReceiverConfig();
  config.admin_token_file = "/nonexistent/admin.token";
  auto server = receiver::ReceiverServer::Create(config);
  ASSERT_TRUE(server.ok());
  const absl::Status status = (*server)->Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(status.message(), "--admin_token_file"));
}

TEST(LineAllowTest, OnlyAllowedSourcesGetLines) {
  receiver::ReceiverConfig config = testing::LocalReceiverConfig();
  config.security.line_allow_cidrs = {"127.0.0.2/32"};
  auto server = testing::StartReceiver(config);
  ASSERT_NE(server, nullptr);
  const int port = server->line_ports().front();

  const int refused = testing::ConnectFrom(port, "127.0.0.1");
  ASSERT_GE(refused, 0);
  char byte;
  EXPECT_EQ(recv(refused, &byte, 1, 0), 0);  // closed at once, no data
  close(refused);
  EXPECT_TRUE(absl::StrContains(
      server->metrics().Render(),
      "ngsi_receiver_line_connections_refused_total 1"));

  const int allowed = testing::ConnectFrom(port, "127.0.0.2");
  ASSERT_GE(allowed, 0);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (server->line_server().client_count() < 1 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_EQ(server->line_server().client_count(), 1u);
  httplib::Client http("127.0.0.1", server->http_port());
  auto posted = http.Post(
      "/notify",
      R"({"subscriptionId":"s1","data":[{"id":"Allowed1","type":"Room"}]})",
      "application/json");
  ASSERT_TRUE(posted);
  EXPECT_EQ(posted->status, 204);
  std::string line;
  char chunk[4096];
  while (line.find('\n') == std::string::npos) {
    const ssize_t n = recv(allowed, chunk, sizeof(chunk), 0);
    ASSERT_GT(n, 0);
    line.append(chunk, static_cast<size_t>(n));
  }
  EXPECT_TRUE(absl::StrContains(line, "Allowed1")) << line;
  close(allowed);
  server->Shutdown();
}

TEST(LineAllowTest, BadNetworkFailsTheStart) {
  receiver::ReceiverConfig config = testing::LocalReceiverConfig();
  config.security.line_allow_cidrs = {"127.0.0.300"};
  auto server = receiver::ReceiverServer::Create(config);
  ASSERT_TRUE(server.ok());
  const absl::Status status = (*server)->Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(status.message(), "--line_allow_cidrs"));
}

}  // namespace
}  // namespace ngsi_bridge
