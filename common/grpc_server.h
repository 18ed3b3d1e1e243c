#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/server.h"
#include "grpcpp/security/server_credentials.h"

namespace ngsi_bridge::common {

struct GrpcServerOptions {
  std::string host = "0.0.0.0";
  int port = 0;  // 0 picks a free port
  std::shared_ptr<grpc::ServerCredentials> credentials;  // null: insecure
  int max_receive_message_bytes = 64 << 20;
};

// A started gRPC server and the port it really bound.
struct StartedGrpcServer {
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

// Builds and starts a gRPC server with `services` plus the standard health
// checking service (grpc.health.v1, reported SERVING) and server reflection.
// `services` must outlive the server. kUnavailable when the port cannot be
// bound.
absl::StatusOr<StartedGrpcServer> StartGrpcServer(
    const GrpcServerOptions& options,
    const std::vector<grpc::Service*>& services);

}  // namespace ngsi_bridge::common
