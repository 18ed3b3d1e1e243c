#include "replier-service/write_back_service.h"

#include <deque>
#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_status.h"

namespace ngsi_bridge::replier {
namespace {

// WriteStream: reads requests ahead (up to stream_window), works on them
// concurrently on BatchWriter's workers and writes the responses strictly in
// request order, one write in flight. Kept alive by self_ (the worker tasks
// hold copies) until OnDone().
class WriteStreamReactor
    : public grpc::ServerBidiReactor<v1::WriteRequest, v1::WriteResponse> {
 public:
  static WriteStreamReactor* Start(WriteBackService* service,
                                   grpc::CallbackServerContext* context) {
    auto reactor = std::make_shared<WriteStreamReactor>(service, context);
    WriteStreamReactor* raw = reactor.get();
    {
      absl::MutexLock lock(&raw->mu_);
      raw->self_ = std::move(reactor);
    }
    raw->StartRead(&raw->incoming_);
    return raw;
  }

  WriteStreamReactor(WriteBackService* service,
                     grpc::CallbackServerContext* context)
      : service_(service), context_(context), started_(absl::Now()) {}

  void OnReadDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    if (!ok) {  // the client half-closed (or went away)
      reads_done_ = true;
      MaybeFinishLocked();
      return;
    }
    if (absl::Status allowed = service_->AuthorizeWrite(context_, incoming_);
        !allowed.ok()) {
      // Nothing of this request reaches a broker; the stream ends.
      FinishLocked(common::ToGrpcStatus(allowed));
      return;
    }
    auto slot = std::make_shared<Slot>();
    slot->request = std::move(incoming_);
    incoming_.Clear();
    slots_.push_back(slot);
    const absl::Time deadline = service_->WorkDeadline(context_);
    std::shared_ptr<WriteStreamReactor> self = self_;
    BatchWriter* writer = service_->writer();
    const absl::Status queued = writer->Enqueue([self, slot, writer,
                                                 deadline] {
      absl::StatusOr<v1::WriteResponse> response =
          writer->Write(slot->request, deadline);
      self->Complete(slot, response.ok() ? *std::move(response)
                                         : BatchWriter::ResponseForError(
                                               slot->request,
                                               response.status()));
    });
    if (!queued.ok()) {
      slot->response = BatchWriter::ResponseForError(slot->request, queued);
      slot->done = true;
    }
    if (static_cast<int>(slots_.size()) <
        service_->config().stream_window) {
      StartRead(&incoming_);
    } else {
      read_paused_ = true;  // resumed when a response is written
    }
    MaybeWriteLocked();
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      // The client is gone; nothing more can be delivered.
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED,
                                "stream closed by the client"));
      return;
    }
    slots_.pop_front();
    if (read_paused_ && !reads_done_ && !finished_) {
      read_paused_ = false;
      StartRead(&incoming_);
    }
    MaybeWriteLocked();
    MaybeFinishLocked();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
  }

  void OnDone() override {
    std::shared_ptr<WriteStreamReactor> keep;
    {
      absl::MutexLock lock(&mu_);
      keep.swap(self_);
    }
    // `keep` may be the last reference: nothing is touched after this.
  }

 private:
  struct Slot {
    v1::WriteRequest request;
    v1::WriteResponse response;
    bool done = false;
  };

  // Runs on a worker thread.
  void Complete(const std::shared_ptr<Slot>& slot,
                v1::WriteResponse response) {
    absl::MutexLock lock(&mu_);
    slot->response = std::move(response);
    slot->done = true;
    MaybeWriteLocked();
  }

  void MaybeWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_ || slots_.empty() || !slots_.front()->done) {
      return;
    }
    writing_ = true;
    StartWrite(&slots_.front()->response);
  }

  void MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (reads_done_ && slots_.empty() && !writing_) {
      FinishLocked(grpc::Status::OK);
    }
  }

  void FinishLocked(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    service_->CountRequest("WriteStream",
                           static_cast<absl::StatusCode>(status.error_code()),
                           started_);
    Finish(status);
  }

  WriteBackService* const service_;
  grpc::CallbackServerContext* const context_;
  const absl::Time started_;
  absl::Mutex mu_;
  std::shared_ptr<WriteStreamReactor> self_ ABSL_GUARDED_BY(mu_);
  v1::WriteRequest incoming_;  // only the pending read touches it
  std::deque<std::shared_ptr<Slot>> slots_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

// A Write request of 1000 entities is some 10 000 protobuf objects (maps of
// attributes, strings, Values). Parsed into an arena they are allocated in
// a few blocks and freed at once, instead of one by one: parsing and
// freeing the request were a third of the replier's CPU per entity.
class ArenaWriteAllocator final
    : public grpc::MessageAllocator<v1::WriteRequest, v1::WriteResponse> {
 public:
  grpc::MessageHolder<v1::WriteRequest, v1::WriteResponse>*
  AllocateMessages() override {
    return new Holder();
  }

 private:
  class Holder final
      : public grpc::MessageHolder<v1::WriteRequest, v1::WriteResponse> {
   public:
    Holder() : arena_(Options()) {
      set_request(
          google::protobuf::Arena::CreateMessage<v1::WriteRequest>(&arena_));
      set_response(
          google::protobuf::Arena::CreateMessage<v1::WriteResponse>(&arena_));
    }
    void Release() override { delete this; }

   private:
    static google::protobuf::ArenaOptions Options() {
      google::protobuf::ArenaOptions options;
      options.start_block_size = 4 << 10;
      options.max_block_size = 256 << 10;
      return options;
    }
    google::protobuf::Arena arena_;
  };
};

}  // namespace

WriteBackService::WriteBackService(const ReplierConfig& config,
                                   BatchWriter* writer,
                                   common::MetricsRegistry* metrics)
    : config_(config),
      writer_(writer),
      metrics_(metrics),
      write_allocator_(std::make_unique<ArenaWriteAllocator>()) {
  SetMessageAllocatorFor_Write(write_allocator_.get());
}

absl::Time WriteBackService::WorkDeadline(
    const grpc::CallbackServerContext* context) const {
  const absl::Time now = absl::Now();
  const absl::Time fallback =
      now + absl::Milliseconds(config_.default_deadline_ms);
  const auto client = context->deadline();
  // gRPC reports "no deadline" as the far future.
  if (client >= std::chrono::system_clock::now() + std::chrono::hours(24 * 365)) {
    return fallback;
  }
  const absl::Time deadline = absl::FromChrono(client);
  // Keep a tenth of the time (at most 200 ms) to carry the answer back.
  const absl::Duration margin =
      std::min((deadline - now) / 10, absl::Milliseconds(200));
  return std::min(deadline - std::max(margin, absl::ZeroDuration()),
                  fallback);
}

void WriteBackService::CountRequest(const char* rpc, absl::StatusCode code,
                                    absl::Time started) {
  metrics_
      ->GetCounter("ngsi_replier_requests_total", "Replier RPCs by result.",
                   {{"rpc", rpc},
                    {"code", absl::AsciiStrToLower(
                                 absl::StatusCodeToString(code))}})
      .Increment();
  metrics_
      ->GetHistogram("ngsi_replier_request_seconds",
                     "Replier RPC latency (for streams, the whole stream).",
                     {{"rpc", rpc}})
      .Observe(absl::ToDoubleSeconds(absl::Now() - started));
}

grpc::ServerUnaryReactor* WriteBackService::Write(
    grpc::CallbackServerContext* context, const v1::WriteRequest* request,
    v1::WriteResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::Time started = absl::Now();
  if (absl::Status allowed = AuthorizeWrite(context, *request); !allowed.ok()) {
    CountRequest("Write", allowed.code(), started);
    reactor->Finish(common::ToGrpcStatus(allowed));
    return reactor;
  }
  const absl::Time deadline = WorkDeadline(context);
  const absl::Status queued =
      writer_->Enqueue([this, reactor, request, response, deadline, started] {
        absl::StatusOr<v1::WriteResponse> result =
            writer_->Write(*request, deadline);
        if (result.ok()) *response = *std::move(result);
        CountRequest("Write", result.status().code(), started);
        reactor->Finish(common::ToGrpcStatus(result.status()));
      });
  if (!queued.ok()) {
    CountRequest("Write", queued.code(), started);
    reactor->Finish(common::ToGrpcStatus(queued));
  }
  return reactor;
}

grpc::ServerBidiReactor<v1::WriteRequest, v1::WriteResponse>*
WriteBackService::WriteStream(grpc::CallbackServerContext* context) {
  return WriteStreamReactor::Start(this, context);
}

grpc::ServerUnaryReactor* WriteBackService::Passthrough(
    grpc::CallbackServerContext* context,
    const v1::PassthroughRequest* request,
    v1::PassthroughResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::Time started = absl::Now();
  if (access_ != nullptr) {
    if (absl::Status allowed = access_->AuthorizePassthrough(*context, *request);
        !allowed.ok()) {
      CountRequest("Passthrough", allowed.code(), started);
      reactor->Finish(common::ToGrpcStatus(allowed));
      return reactor;
    }
  }
  const absl::Time deadline = WorkDeadline(context);
  const absl::Status queued =
      writer_->Enqueue([this, reactor, request, response, deadline, started] {
        absl::StatusOr<v1::PassthroughResponse> result =
            writer_->Passthrough(*request, deadline);
        if (result.ok()) *response = *std::move(result);
        CountRequest("Passthrough", result.status().code(), started);
        reactor->Finish(common::ToGrpcStatus(result.status()));
      });
  if (!queued.ok()) {
    CountRequest("Passthrough", queued.code(), started);
    reactor->Finish(common::ToGrpcStatus(queued));
  }
  return reactor;
}

grpc::ServerUnaryReactor* WriteBackService::ListBrokers(
    grpc::CallbackServerContext* context, const v1::ListBrokersRequest*,
    v1::ListBrokersResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (access_ != nullptr) {
    if (absl::Status allowed = access_->AuthorizeList(*context); !allowed.ok()) {
      CountRequest("ListBrokers", allowed.code(), absl::Now());
      reactor->Finish(common::ToGrpcStatus(allowed));
      return reactor;
    }
  }
  *response = writer_->ListBrokers();
  CountRequest("ListBrokers", absl::StatusCode::kOk, absl::Now());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace ngsi_bridge::replier
