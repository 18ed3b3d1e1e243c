#include "receiver-service/event_log.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/ngsi_json.h"

namespace ngsi_bridge::receiver {
namespace {

// Above SpaceUsedLong / ByteSizeLong for every fixture (at most 17.8 with a
// 512-byte constant, 13.8 with 1 KiB); plus 2x for the cached wire bytes and
// event-json line (the line is about as long as the wire bytes).
constexpr size_t kMemoryPerSerializedByte = 16 + 2;
constexpr size_t kMemoryPerEvent = 1024;

// What a record costs in memory: the event (estimated) plus the raw request
// kept for line formats. The budget exists to bound the process's memory
// (counting serialized bytes alone, bench/ saw 5.7 GB resident for 512 MiB).
size_t RecordBytes(const v1::NgsiEvent& event, size_t serialized_size,
                   const NotificationRequest* request) {
  size_t bytes =
      EstimatedEventMemory(event, serialized_size) + sizeof(LogRecord);
  if (request != nullptr) {
    bytes += request->body.size() + request->path.size() +
             request->query.size() + request->method.size();
    for (const auto& [name, value] : request->headers) {
      bytes += name.size() + value.size();
    }
  }
  return bytes;
}

// Room for the serialized sequence and received_at of an event.
constexpr size_t kMaxEnvelopeBytes = 32;

}  // namespace

size_t EstimatedEventMemory(const v1::NgsiEvent& event) {
  return EstimatedEventMemory(event, event.ByteSizeLong());
}

size_t EstimatedEventMemory(const v1::NgsiEvent& event,
                            size_t serialized_size) {
  // A raw body (custom notifications, line formats) is one flat string:
  // about its size in memory, plus its share of the two cached copies.
  const size_t body = event.body().size();
  const size_t structured = serialized_size - std::min(body, serialized_size);
  return kMemoryPerSerializedByte * structured + 3 * body + kMemoryPerEvent;
}

const std::string& LogRecord::wire() const {
  return wire_.Get([this] { return event.SerializeAsString(); });
}

const std::string& LogRecord::event_json_line() const {
  return event_json_line_.Get(
      [this] { return common::EventToJsonLine(event) + "\n"; });
}

EventLog::EventLog(const Options& options) : options_(options) {}

absl::StatusOr<std::shared_ptr<const LogRecord>> EventLog::Append(
    v1::NgsiEvent event, std::shared_ptr<const NotificationRequest> request) {
  // Serialized before the lock, once: the size prices the record, and the
  // bytes become its wire form once the lock has put the sequence and
  // received_at in front of them (the first two fields: the result is
  // exactly SerializeAsString()'s), for the gRPC streams and the disk.
  event.clear_sequence();
  event.clear_received_at();
  std::string rest = event.SerializeAsString();
  std::string wire;
  wire.reserve(kMaxEnvelopeBytes + rest.size());  // no allocation under lock
  const size_t bytes = RecordBytes(event, rest.size(), request.get());
  if (bytes > options_.max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("event of ", bytes, " bytes exceeds the log's byte "
                     "retention of ", options_.max_bytes));
  }
  auto record = std::make_shared<LogRecord>();
  record->event = std::move(event);
  record->request = std::move(request);
  record->bytes = bytes;

  // Evicted records are destroyed after the lock is released: freeing a
  // parsed event is thousands of frees, which every other intake thread and
  // every catching-up reader would otherwise wait for.
  std::vector<std::shared_ptr<const LogRecord>> evicted;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) {
      return absl::UnavailableError("the receiver is shutting down");
    }
    // Assigned under the lock with the push so that sequence order, log order
    // and received_at order are one and the same.
    record->event.set_sequence(next_sequence_);
    const absl::Time now = absl::Now();
    const int64_t nanos = absl::ToUnixNanos(now);
    auto* received_at = record->event.mutable_received_at();
    received_at->set_seconds(nanos / 1000000000);
    received_at->set_nanos(static_cast<int32_t>(nanos % 1000000000));
    // Fields 1 and 2 come first in protobuf's field order: their bytes
    // followed by the rest's are the whole event's serialization.
    v1::NgsiEvent envelope;
    envelope.set_sequence(next_sequence_);
    *envelope.mutable_received_at() = record->event.received_at();
    envelope.AppendToString(&wire);
    wire += rest;
    if (disk_ != nullptr) {
      // Under our lock so that file order is sequence order; a failed write
      // consumes no sequence and leaves nothing behind (disk full: 503).
      if (absl::Status written = disk_->Append(next_sequence_, wire);
          !written.ok()) {
        return written;
      }
    }
    record->wire_.Set(std::move(wire));
    ++next_sequence_;

    records_.push_back(record);
    bytes_ += bytes;
    while (records_.size() > options_.max_events ||
           (bytes_ > options_.max_bytes && records_.size() > 1)) {
      bytes_ -= records_.front()->bytes;
      evicted.push_back(std::move(records_.front()));
      records_.pop_front();
      ++evicted_;
    }
  }
  // Without our lock: a group commit waits for the sync thread while other
  // intake threads keep appending into the same fsync.
  if (disk_ != nullptr) {
    if (absl::Status durable = disk_->WaitDurable(record->sequence());
        !durable.ok()) {
      return durable;
    }
  }
  return std::shared_ptr<const LogRecord>(std::move(record));
}

absl::StatusOr<std::shared_ptr<const LogRecord>> EventLog::Read(
    uint64_t sequence) const {
  std::deque<std::shared_ptr<const LogRecord>> one;
  if (absl::Status read = ReadRange(sequence, 1, one); !read.ok()) return read;
  if (one.empty()) return nullptr;
  return std::move(one.front());
}

absl::Status EventLog::ReadRange(
    uint64_t sequence, size_t max,
    std::deque<std::shared_ptr<const LogRecord>>& out) const {
  if (max == 0) return absl::OkStatus();
  // Never serve what a crash could still take back (its sequence would be
  // reused): the 2xx and the consumers see the same durable prefix.
  uint64_t last = UINT64_MAX;  // inclusive
  if (disk_ != nullptr) {
    last = disk_->durable_sequence();
    if (sequence > last) return absl::OkStatus();
  }
  {
    absl::ReaderMutexLock lock(&mu_);
    const uint64_t earliest =
        records_.empty() ? next_sequence_ : records_.front()->sequence();
    if (sequence >= earliest || disk_ == nullptr) {
      if (sequence >= next_sequence_) return absl::OkStatus();
      if (sequence < earliest) {
        return absl::OutOfRangeError(absl::StrCat(
            "sequence ", sequence, " is no longer retained; earliest "
            "retained sequence is ", earliest));
      }
      last = std::min(last, next_sequence_ - 1);
      for (uint64_t s = sequence; s <= last && max > 0; ++s, --max) {
        out.push_back(records_[s - earliest]);
      }
      return absl::OkStatus();
    }
  }
  // Behind the in-memory window: from disk, without our lock, so memory
  // stays bounded and appends do not wait for the read.
  absl::StatusOr<v1::NgsiEvent> event = disk_->Read(sequence);
  if (!event.ok()) return event.status();
  auto record = std::make_shared<LogRecord>();
  record->event = *std::move(event);
  record->bytes =
      RecordBytes(record->event, record->event.ByteSizeLong(), nullptr);
  out.push_back(std::move(record));
  return absl::OkStatus();
}

LogStats EventLog::stats() const {
  // Asked before our lock: the disk is a component of its own.
  const uint64_t disk_earliest =
      disk_ != nullptr ? disk_->earliest_sequence() : 0;
  absl::ReaderMutexLock lock(&mu_);
  LogStats stats;
  stats.earliest_sequence = records_.empty() ? 0 : records_.front()->sequence();
  if (disk_ != nullptr) stats.earliest_sequence = disk_earliest;
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
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  // Final fsync; reads from disk keep working.
  if (disk_ != nullptr) disk_->Shutdown();
}

absl::Status EventLog::AttachDisk(std::unique_ptr<DiskLog> disk) {
  absl::MutexLock lock(&mu_);
  if (next_sequence_ != 1 || disk_ != nullptr) {
    return absl::FailedPreconditionError(
        "the event log already holds events; attach the disk first");
  }
  next_sequence_ = disk->recovery().next_sequence;
  disk_ = std::move(disk);
  return absl::OkStatus();
}

}  // namespace ngsi_bridge::receiver
