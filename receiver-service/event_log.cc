#include "receiver-service/event_log.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace ngsi_bridge::receiver {
namespace {

// What a record costs: the serialized event plus the raw request kept for
// line formats. An estimate (protobuf's in-memory size differs), but one
// that grows with what the sender sent, which is what the budget is for.
size_t RecordBytes(const v1::NgsiEvent& event,
                   const NotificationRequest* request) {
  size_t bytes = event.ByteSizeLong() + sizeof(LogRecord);
  if (request != nullptr) {
    bytes += request->body.size() + request->path.size() +
             request->query.size() + request->method.size();
    for (const auto& [name, value] : request->headers) {
      bytes += name.size() + value.size();
    }
  }
  return bytes;
}

}  // namespace

EventLog::EventLog(const Options& options) : options_(options) {}

absl::StatusOr<std::shared_ptr<const LogRecord>> EventLog::Append(
    v1::NgsiEvent event, std::shared_ptr<const NotificationRequest> request) {
  // Sized before the lock: serializing-size a large event is the expensive
  // part, and sequence/received_at add a constant.
  const size_t bytes = RecordBytes(event, request.get());
  if (bytes > options_.max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("event of ", bytes, " bytes exceeds the log's byte "
                     "retention of ", options_.max_bytes));
  }
  auto record = std::make_shared<LogRecord>();
  record->event = std::move(event);
  record->request = std::move(request);
  record->bytes = bytes;

  absl::MutexLock lock(&mu_);
  if (closed_) {
    return absl::UnavailableError("the receiver is shutting down");
  }
  // Assigned under the lock with the push so that sequence order, log order
  // and received_at order are one and the same.
  record->event.set_sequence(next_sequence_++);
  const absl::Time now = absl::Now();
  const int64_t nanos = absl::ToUnixNanos(now);
  auto* received_at = record->event.mutable_received_at();
  received_at->set_seconds(nanos / 1000000000);
  received_at->set_nanos(static_cast<int32_t>(nanos % 1000000000));

  records_.push_back(record);
  bytes_ += bytes;
  while (records_.size() > options_.max_events ||
         (bytes_ > options_.max_bytes && records_.size() > 1)) {
    bytes_ -= records_.front()->bytes;
    records_.pop_front();
    ++evicted_;
  }
  return std::shared_ptr<const LogRecord>(std::move(record));
}

absl::StatusOr<std::shared_ptr<const LogRecord>> EventLog::Read(
    uint64_t sequence) const {
  absl::ReaderMutexLock lock(&mu_);
  if (sequence >= next_sequence_) return nullptr;
  const uint64_t earliest =
      records_.empty() ? next_sequence_ : records_.front()->sequence();
  if (sequence < earliest) {
    return absl::OutOfRangeError(absl::StrCat(
        "sequence ", sequence, " is no longer retained; earliest retained "
        "sequence is ", earliest));
  }
  return records_[sequence - earliest];
}

LogStats EventLog::stats() const {
  absl::ReaderMutexLock lock(&mu_);
  LogStats stats;
  stats.earliest_sequence = records_.empty() ? 0 : records_.front()->sequence();
  stats.latest_sequence = next_sequence_ - 1;
  stats.retained_events = records_.size();
  stats.retained_bytes = bytes_;
  stats.appended_events = next_sequence_ - 1;
  stats.evicted_events = evicted_;
  return stats;
}

uint64_t EventLog::latest_sequence() const {
  absl::ReaderMutexLock lock(&mu_);
  return next_sequence_ - 1;
}

void EventLog::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

}  // namespace ngsi_bridge::receiver
