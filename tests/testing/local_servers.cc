#include "tests/testing/local_servers.h"

#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace ngsi_bridge::testing {
namespace {

// Both servers share Create() + Start(); a failure of either fails the test.
template <typename Server, typename Config>
std::unique_ptr<Server> CreateAndStart(const Config& config) {
  auto server = Server::Create(config);
  if (!server.ok()) {
    ADD_FAILURE() << "create failed: " << server.status();
    return nullptr;
  }
  const absl::Status started = (*server)->Start();
  if (!started.ok()) {
    ADD_FAILURE() << "start failed: " << started;
    return nullptr;
  }
  return *std::move(server);
}

}  // namespace

receiver::ReceiverConfig LocalReceiverConfig() {
  receiver::ReceiverConfig config;
  config.host = "127.0.0.1";
  config.http_port = config.grpc_port = config.admin_port = 0;
  config.line_listeners = {{0, "event-json"}};
  return config;
}

replier::ReplierConfig LocalReplierConfig() {
  replier::ReplierConfig config;
  config.host = "127.0.0.1";
  config.grpc_port = config.admin_port = 0;
  return config;
}

std::unique_ptr<receiver::ReceiverServer> StartReceiver(
    const receiver::ReceiverConfig& config) {
  return CreateAndStart<receiver::ReceiverServer>(config);
}

std::unique_ptr<replier::ReplierServer> StartReplier(
    const replier::ReplierConfig& config) {
  return CreateAndStart<replier::ReplierServer>(config);
}

}  // namespace ngsi_bridge::testing
