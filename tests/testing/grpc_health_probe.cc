#include "tests/testing/grpc_health_probe.h"

#include <chrono>
#include <vector>

#include "absl/synchronization/notification.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"

namespace ngsi_bridge::testing {

absl::StatusOr<std::string> CheckGrpcHealth(const std::string& address) {
  auto channel =
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(5));
  // HealthCheckRequest{service: ""} serializes to zero bytes, but the
  // buffer itself must exist: a default ByteBuffer is "no message".
  grpc::Slice empty_message;
  grpc::ByteBuffer request(&empty_message, 1);
  grpc::ByteBuffer response;
  grpc::Status call_status;
  absl::Notification done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check",
                 grpc::StubOptions(), &request, &response,
                 [&](grpc::Status status) {
                   call_status = std::move(status);
                   done.Notify();
                 });
  done.WaitForNotification();
  if (!call_status.ok()) {
    return absl::UnavailableError(call_status.error_message());
  }
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return absl::InternalError("bad reply");
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  // HealthCheckResponse{status = 1 (varint)}; absent field means UNKNOWN.
  if (bytes.size() == 2 && bytes[0] == 0x08) {
    switch (bytes[1]) {
      case 1:
        return std::string("SERVING");
      case 2:
        return std::string("NOT_SERVING");
    }
  }
  return std::string("UNKNOWN");
}

}  // namespace ngsi_bridge::testing
