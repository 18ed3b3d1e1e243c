#include "receiver-service/subscribe_reactor.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "re2/re2.h"
#include "receiver-service/consumer_groups.h"
#include "receiver-service/stream_access.h"

namespace ngsi_bridge::receiver {
namespace {

constexpr char kVersion[] = "0.1.0";
// Records a catching-up stream takes from the log per lock.
constexpr size_t kReadAheadEvents = 256;
// A SubscribeBatches message stops growing past this many bytes (gRPC
// clients refuse messages over 4 MiB by default).
constexpr size_t kMaxBatchBytes = size_t{1} << 20;
// SubscribeBatches' events per message when the request names none.
constexpr size_t kDefaultBatchEvents = 256;
// The longest SubscribeBatches lets a message wait for more events.
constexpr uint32_t kMaxBatchDelayMs = 1000;

// "/madrid" matches "/madrid" and "/madrid/centro", not "/madridejos":
// service paths are hierarchies of segments.
bool ServicePathMatches(absl::string_view path, absl::string_view prefix) {
  if (prefix.empty() || prefix == "/") return true;
  if (!absl::StartsWith(path, prefix)) return false;
  return path.size() == prefix.size() || prefix.back() == '/' ||
         path[prefix.size()] == '/';
}

// A stream that ends at once with `status` (bad request, shutdown). Deletes
// itself in OnDone().
class FinishedReactor : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  explicit FinishedReactor(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

void ReleaseRecord(void* record) {
  delete static_cast<std::shared_ptr<const LogRecord>*>(record);
}

// The record's shared wire bytes as a slice, without a copy: the slice
// holds a reference to the record until gRPC is done with it.
grpc::Slice SharedWire(const std::shared_ptr<const LogRecord>& record) {
  const std::string& wire = record->wire();
  return grpc::Slice(const_cast<char*>(wire.data()), wire.size(),
                     &ReleaseRecord,
                     new std::shared_ptr<const LogRecord>(record));
}

void DeleteString(void* bytes) { delete static_cast<std::string*>(bytes); }

// A filtered or projected event: its own serialization, handed over to the
// slice without a copy.
grpc::Slice Serialized(const v1::NgsiEvent& event) {
  auto* bytes = new std::string(event.SerializeAsString());
  return grpc::Slice(bytes->data(), bytes->size(), &DeleteString, bytes);
}

// What precedes an event of `size` bytes in a serialized NgsiEventBatch:
// the key of `events` (field 1, length-delimited) and the length.
grpc::Slice BatchFieldPrefix(size_t size) {
  char prefix[11];
  size_t length = 0;
  prefix[length++] = 0x0A;
  do {
    const uint8_t low = size & 0x7F;
    size >>= 7;
    prefix[length++] = static_cast<char>(size != 0 ? low | 0x80 : low);
  } while (size != 0);
  return grpc::Slice(prefix, length);  // small: stored inline, no allocation
}

}  // namespace

EventMatcher::EventMatcher(const v1::EventFilter& filter) : filter_(filter) {}
EventMatcher::~EventMatcher() = default;

absl::StatusOr<std::unique_ptr<EventMatcher>> EventMatcher::Create(
    const v1::EventFilter& filter, std::vector<std::string> allowed_services) {
  std::unique_ptr<EventMatcher> matcher(new EventMatcher(filter));
  matcher->allowed_services_ = std::move(allowed_services);
  if (!filter.entity_id_pattern().empty()) {
    RE2::Options options;
    options.set_log_errors(false);
    matcher->id_pattern_ =
        std::make_unique<RE2>(filter.entity_id_pattern(), options);
    if (!matcher->id_pattern_->ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("filter.entity_id_pattern '", filter.entity_id_pattern(),
                       "' is not a valid RE2 expression: ",
                       matcher->id_pattern_->error()));
    }
  }
  matcher->filters_entities_ = !filter.entity_type().empty() ||
                               !filter.entity_id().empty() ||
                               matcher->id_pattern_ != nullptr;
  return matcher;
}

bool EventMatcher::EntityMatches(const v1::Entity& entity) const {
  if (!filter_.entity_type().empty()) {
    const bool type_matches =
        entity.type() == filter_.entity_type() ||
        std::find(entity.types().begin(), entity.types().end(),
                  filter_.entity_type()) != entity.types().end();
    if (!type_matches) return false;
  }
  // Entities without an id (`values` format) match no id filter.
  if (!filter_.entity_id().empty() &&
      (!entity.has_id() || entity.id() != filter_.entity_id())) {
    return false;
  }
  if (id_pattern_ != nullptr &&
      (!entity.has_id() || !RE2::FullMatch(entity.id(), *id_pattern_))) {
    return false;
  }
  return true;
}

const v1::NgsiEvent* EventMatcher::Apply(const v1::NgsiEvent& event,
                                         v1::NgsiEvent& scratch) const {
  if (!filter_.service().empty() && event.service() != filter_.service()) {
    return nullptr;
  }
  if (!allowed_services_.empty() &&
      std::find(allowed_services_.begin(), allowed_services_.end(),
                event.service()) == allowed_services_.end()) {
    return nullptr;
  }
  if (!ServicePathMatches(event.service_path(),
                          filter_.service_path_prefix())) {
    return nullptr;
  }
  if (!filters_entities_ && filter_.attrs().empty()) return &event;

  bool all_match = true;
  int matching = 0;
  for (const v1::Entity& entity : event.entities()) {
    if (EntityMatches(entity)) {
      ++matching;
    } else {
      all_match = false;
    }
  }
  if (filters_entities_ && matching == 0) return nullptr;
  if (all_match && filter_.attrs().empty()) return &event;

  // Copy the envelope, then only what passes.
  scratch = event;
  scratch.clear_entities();
  for (const v1::Entity& entity : event.entities()) {
    if (!EntityMatches(entity)) continue;
    v1::Entity* kept = scratch.add_entities();
    *kept = entity;
    if (filter_.attrs().empty()) continue;
    kept->clear_attrs();
    for (const std::string& name : filter_.attrs()) {
      auto it = entity.attrs().find(name);
      if (it != entity.attrs().end()) (*kept->mutable_attrs())[name] = it->second;
    }
  }
  return &scratch;
}

SubscribeReactor::SubscribeReactor(grpc::CallbackServerContext* context,
                                   EventLog* log, EventHub* hub,
                                   std::unique_ptr<EventMatcher> matcher,
                                   uint64_t next_sequence,
                                   uint64_t end_sequence,
                                   const SubscribeOptions& options,
                                   std::string name)
    : context_(context),
      log_(log),
      hub_(hub),
      matcher_(std::move(matcher)),
      end_sequence_(end_sequence),
      options_(options),
      name_(std::move(name)),
      next_sequence_(next_sequence) {}

void SubscribeReactor::Start(std::shared_ptr<SubscribeReactor> self) {
  {
    absl::MutexLock lock(&mu_);
    self_ = self;
    pumping_ = true;  // Offer() calls from now on only queue
  }
  if (absl::Status attached = hub_->Attach(self); !attached.ok()) {
    absl::MutexLock lock(&mu_);
    pumping_ = false;
    FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                              std::string(attached.message())));
    return;
  }
  // Attached before the first log read: whatever the read misses arrives
  // through Offer().
  Pump();
}

void SubscribeReactor::Offer(const std::shared_ptr<const LogRecord>& record) {
  {
    absl::MutexLock lock(&mu_);
    if (finished_ || record->sequence() < next_sequence_) return;
    queue_.push_back(record);
    if (queue_.size() > options_.queue_capacity) {
      // The log still has it: Pump() reads it back when its turn comes.
      queue_.pop_front();
      ++dropped_;
    }
    if (pumping_) return;
    pumping_ = true;
  }
  Pump();
}

void SubscribeReactor::Pump() {
  // One message: the next matching record, or for SubscribeBatches every
  // one ready (up to the batch bounds). Whenever the walk would stop while
  // a batch holds records, it sends them first and the next Pump() meets
  // the same stop again; with a batch delay it may first wait (keeping the
  // token) for more records to join.
  const size_t max_events = std::max<size_t>(1, options_.batch.max_events);
  bool caught_up = false;  // stopped only because nothing more is appended
  for (;;) {
    std::shared_ptr<const LogRecord> record;
    uint64_t want = 0;
    {
      absl::MutexLock lock(&mu_);
      if (finished_) {
        slices_.clear();  // a batch being built: nothing will send it
        batch_events_ = 0;
        batch_bytes_ = 0;
        pumping_ = false;
        return;
      }
      want = next_sequence_;
      if (end_sequence_ != 0 && want > end_sequence_) {
        if (batch_events_ > 0) break;
        FinishLocked(grpc::Status::OK);
        pumping_ = false;
        return;
      }
      while (!queue_.empty() && queue_.front()->sequence() < want) {
        queue_.pop_front();
      }
      if (!queue_.empty() && queue_.front()->sequence() == want) {
        record = std::move(queue_.front());
        queue_.pop_front();
      }
    }
    while (!read_ahead_.empty() && read_ahead_.front()->sequence() < want) {
      read_ahead_.pop_front();
    }
    if (record == nullptr && !read_ahead_.empty() &&
        read_ahead_.front()->sequence() == want) {
      record = std::move(read_ahead_.front());
      read_ahead_.pop_front();
    }
    if (record == nullptr) {
      // Catch-up (or a record the queue dropped, or one published out of
      // order by a concurrent intake thread): the log has it if anything
      // newer was offered, since sequences are assigned in append order.
      // Read ahead in one go: one log lock per batch, not per event.
      read_ahead_.clear();
      const absl::Status read =
          log_->ReadRange(want, kReadAheadEvents, read_ahead_);
      const uint64_t earliest =
          read.ok() ? 0 : log_->stats().earliest_sequence;
      absl::MutexLock lock(&mu_);
      if (!read.ok()) {
        if (batch_events_ > 0) break;
        context_->AddTrailingMetadata("ngsi-earliest-sequence",
                                      std::to_string(earliest));
        FinishLocked(grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                                  absl::StrCat("subscriber fell behind the "
                                               "log's retention: ",
                                               read.message())));
        pumping_ = false;
        return;
      }
      if (read_ahead_.empty()) {
        // Not appended yet. Anything queued meanwhile is re-examined; else
        // the next Offer() takes the token.
        if (queue_.empty()) {
          if (batch_events_ > 0) {
            caught_up = true;
            break;
          }
          pumping_ = false;
          return;
        }
        continue;
      }
      record = std::move(read_ahead_.front());
      read_ahead_.pop_front();
    }

    const v1::NgsiEvent* message = matcher_->Apply(record->event, projected_);
    // Built before our lock: serializing is the expensive part, and only
    // the token holder touches slices_.
    if (message != nullptr) {
      grpc::Slice event = message == &record->event ? SharedWire(record)
                                                    : Serialized(*message);
      if (options_.batch.max_events > 0) {
        slices_.push_back(BatchFieldPrefix(event.size()));
      }
      if (batch_events_ == 0) {
        batch_deadline_ = absl::Now() + options_.batch.max_delay;
      }
      batch_bytes_ += event.size();
      slices_.push_back(std::move(event));
      ++batch_events_;
    }
    {
      absl::MutexLock lock(&mu_);
      next_sequence_ = want + 1;
    }
    if (batch_events_ >= max_events || batch_bytes_ >= kMaxBatchBytes) break;
  }
  if (caught_up && WaitForMoreEvents()) return;  // the alarm pumps again
  absl::MutexLock lock(&mu_);
  write_buffer_ = grpc::ByteBuffer(slices_.data(), slices_.size());
  slices_.clear();
  batch_events_ = 0;
  batch_bytes_ = 0;
  if (finished_) {
    pumping_ = false;
    return;
  }
  StartWrite(&write_buffer_);
  // The token passes to OnWriteDone().
}

bool SubscribeReactor::WaitForMoreEvents() {
  if (options_.batch.max_delay <= absl::ZeroDuration() ||
      absl::Now() >= batch_deadline_) {
    return false;
  }
  std::shared_ptr<SubscribeReactor> self;
  {
    absl::MutexLock lock(&mu_);
    if (finished_) return false;
    self = self_;
  }
  if (self == nullptr) return false;
  // Offer() only queues meanwhile (the token stays ours); the alarm's
  // callback holds the reactor and pumps on a gRPC thread, also when the
  // alarm is cancelled (the stream ended: Pump() then drops the batch). It
  // lets go of the reactor once run: the alarm keeps its callback until the
  // alarm is destroyed, and the reactor owns the alarm.
  batch_alarm_ = std::make_unique<grpc::Alarm>();
  batch_alarm_->Set(absl::ToChronoTime(batch_deadline_),
                    [self = std::move(self)](bool) mutable {
                      const std::shared_ptr<SubscribeReactor> reactor =
                          std::move(self);
                      reactor->Pump();
                    });
  return true;
}

void SubscribeReactor::OnWriteDone(bool ok) {
  if (!ok) {
    // The stream is broken (client gone); OnCancel() or this finishes it.
    absl::MutexLock lock(&mu_);
    pumping_ = false;
    FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
    return;
  }
  Pump();
}

void SubscribeReactor::OnCancel() {
  absl::MutexLock lock(&mu_);
  FinishLocked(grpc::Status::CANCELLED);
}

void SubscribeReactor::OnHubClosed() {
  absl::MutexLock lock(&mu_);
  FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                            "the receiver is shutting down; resume with "
                            "start AFTER the last sequence received"));
}

void SubscribeReactor::End(const grpc::Status& status) {
  absl::MutexLock lock(&mu_);
  FinishLocked(status);
}

void SubscribeReactor::OnDone() {
  hub_->Detach(this);
  if (options_.on_done) options_.on_done();
  // Now, not in the destructor: a waiting batch's alarm may keep this
  // object up to the batch delay longer, possibly past the server that
  // owns the limiter.
  lease_.reset();
  std::shared_ptr<SubscribeReactor> self;
  {
    absl::MutexLock lock(&mu_);
    self = std::move(self_);
  }
  // `self` may be the last reference: nothing is touched after this.
}

void SubscribeReactor::FinishLocked(const grpc::Status& status) {
  if (finished_) return;
  finished_ = true;
  queue_.clear();
  Finish(status);
}

uint64_t SubscribeReactor::lag(uint64_t latest_sequence) const {
  absl::MutexLock lock(&mu_);
  return latest_sequence >= next_sequence_
             ? latest_sequence - next_sequence_ + 1
             : 0;
}

uint64_t SubscribeReactor::dropped_count() const {
  absl::MutexLock lock(&mu_);
  return dropped_;
}

EventStreamService::EventStreamService(EventLog* log, EventHub* hub,
                                       const SubscribeOptions& options)
    : log_(log), hub_(hub), options_(options) {}

grpc::ServerWriteReactor<grpc::ByteBuffer>* EventStreamService::Subscribe(
    grpc::CallbackServerContext* context,
    const grpc::ByteBuffer* raw_request) {
  return StartStream(context, raw_request, /*batches=*/false);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>*
EventStreamService::SubscribeBatches(grpc::CallbackServerContext* context,
                                     const grpc::ByteBuffer* raw_request) {
  return StartStream(context, raw_request, /*batches=*/true);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* EventStreamService::StartStream(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw_request,
    bool batches) {
  v1::SubscribeRequest parsed;
  {
    // Deserialize() consumes its buffer; the request is gRPC's.
    grpc::ByteBuffer copy(*raw_request);
    if (!grpc::SerializationTraits<v1::SubscribeRequest>::Deserialize(&copy,
                                                                      &parsed)
             .ok()) {
      return new FinishedReactor(grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          "the request is not a serialized SubscribeRequest"));
    }
  }
  const v1::SubscribeRequest* request = &parsed;
  BatchSettings batching;
  if (batches) {
    batching.max_events = request->max_batch_events() > 0
                              ? request->max_batch_events()
                              : kDefaultBatchEvents;
    batching.max_delay = absl::Milliseconds(
        std::min(request->max_batch_delay_ms(), kMaxBatchDelayMs));
  }
  StreamGrant grant;
  if (absl::Status admitted = AdmitSubscriber(auth_, limiter_, *context,
                                              request->filter(), grant);
      !admitted.ok()) {
    return new FinishedReactor(common::ToGrpcStatus(admitted));
  }
  auto matcher = EventMatcher::Create(request->filter(), grant.tenants);
  if (!matcher.ok()) {
    return new FinishedReactor(grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT, std::string(matcher.status().message())));
  }
  if (!request->group().empty()) {
    if (groups_ == nullptr) {
      return new FinishedReactor(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                              "consumer groups are off"));
    }
    // The group's committed offsets decide where the stream starts.
    return groups_->Subscribe(context, *request, *std::move(matcher),
                              std::move(grant.lease), batching);
  }
  const LogStats stats = log_->stats();
  uint64_t next = stats.latest_sequence + 1;
  switch (request->start()) {
    case v1::SubscribeRequest::EARLIEST:
      if (stats.earliest_sequence != 0) next = stats.earliest_sequence;
      break;
    case v1::SubscribeRequest::AFTER:
      // Beyond the head means the client saw sequences this receiver never
      // issued (it restarted with an empty memory log): waiting would hide
      // the gap, so say so.
      if (request->after_sequence() > stats.latest_sequence) {
        context->AddTrailingMetadata("ngsi-earliest-sequence",
                                     std::to_string(stats.earliest_sequence));
        return new FinishedReactor(grpc::Status(
            grpc::StatusCode::OUT_OF_RANGE,
            absl::StrCat("after_sequence ", request->after_sequence(),
                         " is beyond the latest sequence ",
                         stats.latest_sequence,
                         " (the receiver restarted?); earliest retained "
                         "sequence is ",
                         stats.earliest_sequence)));
      }
      next = request->after_sequence() + 1;
      if (stats.earliest_sequence != 0 && next < stats.earliest_sequence) {
        context->AddTrailingMetadata("ngsi-earliest-sequence",
                                     std::to_string(stats.earliest_sequence));
        return new FinishedReactor(grpc::Status(
            grpc::StatusCode::OUT_OF_RANGE,
            absl::StrCat("sequence ", next,
                         " is no longer retained; earliest retained sequence "
                         "is ",
                         stats.earliest_sequence)));
      }
      break;
    default:  // LATEST
      break;
  }
  uint64_t id = 0;
  {
    absl::MutexLock lock(&mu_);
    id = next_id_++;
  }
  SubscribeOptions options = options_;
  options.batch = batching;
  auto reactor = std::make_shared<SubscribeReactor>(
      context, log_, hub_, *std::move(matcher), next, request->end_sequence(),
      options, absl::StrCat("grpc-", id));
  reactor->HoldLease(std::move(grant.lease));
  SubscribeReactor* raw = reactor.get();
  raw->Start(std::move(reactor));
  return raw;
}

grpc::ServerUnaryReactor* EventStreamService::Info(
    grpc::CallbackServerContext* context, const v1::InfoRequest*,
    v1::InfoResponse* response) {
  if (absl::Status admitted = AdmitReader(auth_, *context); !admitted.ok()) {
    grpc::ServerUnaryReactor* denied = context->DefaultReactor();
    denied->Finish(common::ToGrpcStatus(admitted));
    return denied;
  }
  const LogStats stats = log_->stats();
  response->set_earliest_sequence(stats.earliest_sequence);
  response->set_latest_sequence(stats.latest_sequence);
  response->set_retained_events(stats.retained_events);
  response->set_retained_bytes(stats.retained_bytes);
  response->set_version(kVersion);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* EventStreamService::Commit(
    grpc::CallbackServerContext* context, const v1::CommitRequest* request,
    v1::CommitResponse* response) {
  grpc::Status refused;
  if (absl::Status admitted = AdmitReader(auth_, *context); !admitted.ok()) {
    refused = common::ToGrpcStatus(admitted);
  } else if (groups_ == nullptr) {
    refused = grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                           "consumer groups are off");
  }
  if (!refused.ok()) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(refused);
    return reactor;
  }
  return groups_->Commit(context, *request, response);
}

}  // namespace ngsi_bridge::receiver
