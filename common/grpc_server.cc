#include "common/grpc_server.h"

#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace ngsi_bridge::common {

absl::StatusOr<StartedGrpcServer> StartGrpcServer(
    const GrpcServerOptions& options,
    const std::vector<grpc::Service*>& services) {
  // Both are process-wide switches that must be set before the builder.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  grpc::ServerBuilder builder;
  StartedGrpcServer started;
  const std::string address = absl::StrCat(
      options.host.find(':') != std::string::npos ? "[" + options.host + "]"
                                                   : options.host,
      ":", options.port);
  builder.AddListeningPort(address,
                           options.credentials
                               ? options.credentials
                               : grpc::InsecureServerCredentials(),
                           &started.port);
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  for (grpc::Service* service : services) builder.RegisterService(service);
  started.server = builder.BuildAndStart();
  if (started.server == nullptr || started.port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen for gRPC on ", address));
  }
  return started;
}

}  // namespace ngsi_bridge::common
