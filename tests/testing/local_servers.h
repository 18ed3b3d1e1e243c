#pragma once

#include <memory>

#include "receiver-service/receiver_config.h"
#include "receiver-service/receiver_server.h"
#include "replier-service/replier_config.h"
#include "replier-service/replier_server.h"

namespace ngsi_bridge::testing {

// A receiver for in-process tests: 127.0.0.1, HTTP, gRPC and admin on port 0,
// one event-json line listener on port 0. Tests change fields before starting.
receiver::ReceiverConfig LocalReceiverConfig();

// A replier for in-process tests: 127.0.0.1, gRPC and admin on port 0, no
// brokers.
replier::ReplierConfig LocalReplierConfig();

// Creates and starts a server from `config`; blocks until it listens (the
// ports it bound are on the server). The caller owns it; its destructor shuts
// it down. On failure records a gtest failure naming the status and returns
// nullptr. Linked only into integration_test (it needs both services).
std::unique_ptr<receiver::ReceiverServer> StartReceiver(
    const receiver::ReceiverConfig& config);
std::unique_ptr<replier::ReplierServer> StartReplier(
    const replier::ReplierConfig& config);

}  // namespace ngsi_bridge::testing
