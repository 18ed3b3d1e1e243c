#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/grpc_auth.h"
#include "common/stream_limiter.h"
#include "grpcpp/alarm.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/server_callback.h"
#include "ngsi_bridge/v1/receiver.grpc.pb.h"
#include "receiver-service/event_hub.h"
#include "receiver-service/event_log.h"

namespace re2 {
class RE2;
}

namespace ngsi_bridge::receiver {

class ConsumerGroups;

// A compiled v1::EventFilter. Immutable after Create(): thread-safe.
class EventMatcher {
 public:
  // kInvalidArgument naming the pattern when entity_id_pattern is not a
  // valid RE2 expression. A non-empty `allowed_services` also drops every
  // event whose service is not in it (the tenants a subscriber is granted).
  static absl::StatusOr<std::unique_ptr<EventMatcher>> Create(
      const v1::EventFilter& filter,
      std::vector<std::string> allowed_services = {});
  virtual ~EventMatcher();

  // The event to send for `event`: `event` itself when it passes unchanged,
  // `scratch` (filled here) when only some entities match or attributes are
  // projected, null when it does not match at all. Entity filters (type, id,
  // pattern) keep the matching entities; an event left with none is skipped.
  // Virtual for consumer groups (GroupMatcher keeps their partitions).
  virtual const v1::NgsiEvent* Apply(const v1::NgsiEvent& event,
                                     v1::NgsiEvent& scratch) const;

 protected:
  explicit EventMatcher(const v1::EventFilter& filter);

 private:
  bool EntityMatches(const v1::Entity& entity) const;

  const v1::EventFilter filter_;
  std::vector<std::string> allowed_services_;
  std::unique_ptr<re2::RE2> id_pattern_;
  bool filters_entities_ = false;
};

// What a SubscribeBatches request asks of its messages
// (SubscribeRequest.max_batch_events / max_batch_delay_ms); the default
// is a Subscribe stream.
struct BatchSettings {
  // 0: one serialized NgsiEvent per message (Subscribe); N: NgsiEventBatch
  // messages of up to N events (SubscribeBatches).
  size_t max_events = 0;
  // SubscribeBatches: how long a message that has room for more events
  // waits for them once it holds one (zero: it leaves at once). Under a
  // steady flow each write then carries several events instead of one,
  // which is what makes many streams affordable.
  absl::Duration max_delay = absl::ZeroDuration();
};

struct SubscribeOptions {
  // Live records a subscriber queues before dropping the oldest; a dropped
  // record is read back from the log, so this bounds memory, not delivery.
  size_t queue_capacity = 1024;
  BatchSettings batch;
  // Runs once in OnDone() (consumer groups learn a member left).
  std::function<void()> on_done;
};

// One EventStream.Subscribe call: a server-streaming reactor that is also a
// hub sink. It walks the log by sequence (`next_sequence_`): live records
// come from its bounded queue, anything the queue lacks (catch-up, drops) is
// read from the log, and a sequence the log no longer retains ends the
// stream with OUT_OF_RANGE, so a consumer never sees a silent gap. One write
// in flight; whoever holds `pumping_` drives the next write. Owns itself via
// `self_` from Start() until OnDone(). Thread-safe.
//
// It writes serialized v1::NgsiEvent messages (a raw method, see
// EventStreamService), or for SubscribeBatches v1::NgsiEventBatch messages
// holding every matching record ready when the previous write completed:
// an event that passes the matcher unchanged goes out as the record's
// shared wire bytes (LogRecord::wire(), serialized once for every stream;
// a batch is those bytes framed as its `events` field, without a copy);
// only a filtered or projected event is serialized here.
class SubscribeReactor : public grpc::ServerWriteReactor<grpc::ByteBuffer>,
                         public EventSink {
 public:
  SubscribeReactor(grpc::CallbackServerContext* context, EventLog* log,
                   EventHub* hub, std::unique_ptr<EventMatcher> matcher,
                   uint64_t next_sequence, uint64_t end_sequence,
                   const SubscribeOptions& options, std::string name);

  // Takes ownership of itself (`self` is this), attaches to the hub and
  // sends what the log already holds. Call once, right after construction.
  void Start(std::shared_ptr<SubscribeReactor> self);
  // Ends the stream with `status` (a consumer group rebalanced).
  // Idempotent; never blocks.
  void End(const grpc::Status& status);
  // Keeps `lease` (a StreamLimiter slot) until the stream is done. Call
  // before Start().
  void HoldLease(std::shared_ptr<void> lease) { lease_ = std::move(lease); }

  // grpc::ServerWriteReactor
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  // EventSink
  void Offer(const std::shared_ptr<const LogRecord>& record) override;
  void OnHubClosed() override;
  std::string consumer_name() const override { return name_; }
  uint64_t lag(uint64_t latest_sequence) const override;
  uint64_t dropped_count() const override;

 private:
  // Sends the next matching record, or gives the pump token back when there
  // is none yet. Call holding the token, without mu_.
  void Pump();
  // With a batch delay and time left before the batch's deadline: arms an
  // alarm that pumps again then, and returns true (the caller keeps the
  // token and returns). Call holding the token, without mu_.
  bool WaitForMoreEvents();
  void FinishLocked(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  grpc::CallbackServerContext* const context_;
  EventLog* const log_;
  EventHub* const hub_;
  const std::unique_ptr<EventMatcher> matcher_;
  const uint64_t end_sequence_;  // 0 = none
  const SubscribeOptions options_;
  const std::string name_;
  std::shared_ptr<void> lease_;

  mutable absl::Mutex mu_;
  std::shared_ptr<SubscribeReactor> self_;
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_);
  std::deque<std::shared_ptr<const LogRecord>> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  bool pumping_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  // Only the token holder touches these; they stay valid until the write
  // they back completes.
  std::vector<grpc::Slice> slices_;  // the message being built
  size_t batch_events_ = 0;          // events in slices_
  size_t batch_bytes_ = 0;
  absl::Time batch_deadline_;        // when a waiting batch must leave
  std::unique_ptr<grpc::Alarm> batch_alarm_;
  // Records read ahead from the log while catching up (consecutive, from
  // the front's sequence on).
  std::deque<std::shared_ptr<const LogRecord>> read_ahead_;
  v1::NgsiEvent projected_;
  grpc::ByteBuffer write_buffer_;
};

// The EventStream service with Subscribe and SubscribeBatches as raw
// methods: their request arrives serialized and their streams carry
// serialized NgsiEvent (NgsiEventBatch) messages, so that one serialization
// of an event serves every subscriber. The wire format is unchanged:
// clients see a plain `stream NgsiEvent` (`stream NgsiEventBatch`).
using EventStreamBase = v1::EventStream::WithRawCallbackMethod_Subscribe<
    v1::EventStream::WithRawCallbackMethod_SubscribeBatches<
        v1::EventStream::WithCallbackMethod_Info<v1::EventStream::
                                                     WithCallbackMethod_Commit<
                                                         v1::EventStream::
                                                             Service>>>>;

// The EventStream gRPC service (callback API). Owned by ReceiverServer;
// `log` and `hub` must outlive it. Thread-safe.
class EventStreamService final : public EventStreamBase {
 public:
  EventStreamService(EventLog* log, EventHub* hub,
                     const SubscribeOptions& options);

  // `raw_request` is a serialized v1::SubscribeRequest (INVALID_ARGUMENT
  // when it does not parse).
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Subscribe(
      grpc::CallbackServerContext* context,
      const grpc::ByteBuffer* raw_request) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* SubscribeBatches(
      grpc::CallbackServerContext* context,
      const grpc::ByteBuffer* raw_request) override;
  grpc::ServerUnaryReactor* Info(grpc::CallbackServerContext* context,
                                 const v1::InfoRequest* request,
                                 v1::InfoResponse* response) override;
  grpc::ServerUnaryReactor* Commit(grpc::CallbackServerContext* context,
                                   const v1::CommitRequest* request,
                                   v1::CommitResponse* response) override;

  // Serves SubscribeRequest.group and Commit; without it they answer
  // UNIMPLEMENTED. Set before serving; `groups` must outlive the service.
  void set_consumer_groups(ConsumerGroups* groups) { groups_ = groups; }

  // From then on every call must authenticate with `auth` (when not null)
  // and Subscribe streams are bounded per client by `limiter` (when not
  // null); see AdmitSubscriber(). Both must outlive the service. Call
  // before serving.
  void SetAccessControl(const common::GrpcAuthenticator* auth,
                        common::StreamLimiter* limiter) {
    auth_ = auth;
    limiter_ = limiter;
  }

 private:
  // Either Subscribe; `batches` for SubscribeBatches.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* StartStream(
      grpc::CallbackServerContext* context,
      const grpc::ByteBuffer* raw_request, bool batches);

  EventLog* const log_;
  EventHub* const hub_;
  const SubscribeOptions options_;
  ConsumerGroups* groups_ = nullptr;
  const common::GrpcAuthenticator* auth_ = nullptr;
  common::StreamLimiter* limiter_ = nullptr;
  absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace ngsi_bridge::receiver
