#pragma once

#include <memory>

#include "grpcpp/support/message_allocator.h"

#include "absl/time/time.h"
#include "common/metrics.h"
#include "ngsi_bridge/v1/replier.grpc.pb.h"
#include "replier-service/batch_writer.h"
#include "replier-service/replier_config.h"
#include "replier-service/write_access.h"

namespace ngsi_bridge::replier {

// The Replier gRPC service (callback API). Every reaction returns at once:
// Write, WriteStream and Passthrough hand their work to BatchWriter's
// workers, which finish the RPC (or write the stream response) when the
// broker has answered. Owned by ReplierServer; `writer` and `metrics` must
// outlive it. Thread-safe.
class WriteBackService final : public v1::Replier::CallbackService {
 public:
  WriteBackService(const ReplierConfig& config, BatchWriter* writer,
                   common::MetricsRegistry* metrics);

  grpc::ServerUnaryReactor* Write(grpc::CallbackServerContext* context,
                                  const v1::WriteRequest* request,
                                  v1::WriteResponse* response) override;
  grpc::ServerBidiReactor<v1::WriteRequest, v1::WriteResponse>* WriteStream(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* Passthrough(
      grpc::CallbackServerContext* context,
      const v1::PassthroughRequest* request,
      v1::PassthroughResponse* response) override;
  grpc::ServerUnaryReactor* ListBrokers(
      grpc::CallbackServerContext* context,
      const v1::ListBrokersRequest* request,
      v1::ListBrokersResponse* response) override;

  // When broker work for a call must be done: the client's deadline less a
  // margin to send the answer (so results arrive before the client gives
  // up), or now + default_deadline_ms when the client set none.
  absl::Time WorkDeadline(const grpc::CallbackServerContext* context) const;

  // Counts a finished RPC (requests_total, request_seconds).
  void CountRequest(const char* rpc, absl::StatusCode code,
                    absl::Time started);

  // Every RPC is then authorized by `access` first (refused ones reach no
  // broker). Call before serving; `access` must outlive the service.
  void SetAccess(const WriteAccess* access) { access_ = access; }
  // OK when no access control is set.
  absl::Status AuthorizeWrite(const grpc::CallbackServerContext* context,
                              const v1::WriteRequest& request) const {
    return access_ ? access_->AuthorizeWrite(*context, request)
                   : absl::OkStatus();
  }

  BatchWriter* writer() const { return writer_; }
  const ReplierConfig& config() const { return config_; }

 private:
  const ReplierConfig config_;
  BatchWriter* const writer_;
  common::MetricsRegistry* const metrics_;
  const WriteAccess* access_ = nullptr;
  // Parses each Write request into an arena of its own (see the .cc).
  std::unique_ptr<grpc::MessageAllocator<v1::WriteRequest, v1::WriteResponse>>
      write_allocator_;
};

}  // namespace ngsi_bridge::replier
