#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/call_once.h"
#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "ngsi_bridge/v1/ngsi.pb.h"
#include "receiver-service/disk_log.h"
#include "receiver-service/notification_parser.h"

namespace ngsi_bridge::receiver {

// A string computed at most once, on first use, then shared by every reader
// (a record's wire bytes, its event-json line). A copy starts empty: the
// value belongs to the object it was computed from. Thread-safe.
class OnceString {
 public:
  OnceString() = default;
  OnceString(const OnceString&) {}
  OnceString& operator=(const OnceString&) = delete;

  // The value, computing it with `make()` (returning std::string) if no
  // caller did yet; concurrent first callers wait for the one computing.
  template <typename Make>
  const std::string& Get(Make&& make) const {
    absl::call_once(once_, [&] { value_ = std::forward<Make>(make)(); });
    return value_;
  }
  // Gives the value before any caller asked (no effect if one did).
  void Set(std::string value) {
    absl::call_once(once_, [&] { value_ = std::move(value); });
  }

 private:
  mutable absl::once_flag once_;
  mutable std::string value_;
};

// What an event costs in memory as the log holds it: the parsed message and
// room for the wire bytes and event-json line a record caches once a consumer
// asks for them. Estimated from the serialized size, which generated code
// computes cheaply, because the exact in-memory size (reflection's
// SpaceUsedLong) cost 125 us per 10 KB event, a quarter of its parse. A tree
// of google.protobuf.Value takes 3-22 times its serialized size (the small
// events the most, for their fixed overhead), so the estimate errs high
// except for the raw body, a flat string counted at about its size; tests
// hold the estimate above SpaceUsedLong for every fixture.
size_t EstimatedEventMemory(const v1::NgsiEvent& event);
// The same, given the event's serialized size.
size_t EstimatedEventMemory(const v1::NgsiEvent& event, size_t serialized_size);

// One accepted notification as retained by the log. Immutable once appended,
// shared (shared_ptr) by the log, the fan-out queues and in-flight writes.
struct LogRecord {
  // `sequence` and `received_at` set by EventLog::Append.
  v1::NgsiEvent event;
  // The request as received, kept only when a line format needs it (`fpc`,
  // `body`); null otherwise.
  std::shared_ptr<const NotificationRequest> request;
  // What this record counts against the byte retention.
  size_t bytes = 0;

  uint64_t sequence() const { return event.sequence(); }

  // `event` in protobuf wire format, shared by every reader: each gRPC
  // stream that sends the event unchanged sends these bytes instead of
  // serializing it again (~9-13 us per extra subscriber per 1 KB event,
  // measured in bench/). EventLog::Append() builds them with the event;
  // a record made otherwise serializes on the first call. Call only once
  // the record is appended (sequence and received_at set).
  const std::string& wire() const;
  // The `event-json` line of `event` (with its '\n'), rendered on the first
  // call and shared by every listener and client.
  const std::string& event_json_line() const;

 private:
  friend class EventLog;  // gives wire_ at append
  OnceString wire_;
  OnceString event_json_line_;
};

// The retained range of the log at one instant.
struct LogStats {
  uint64_t earliest_sequence = 0;  // 0 when nothing is retained
  uint64_t latest_sequence = 0;    // 0 before the first append
  uint64_t retained_events = 0;
  uint64_t retained_bytes = 0;
  uint64_t appended_events = 0;    // since start
  uint64_t evicted_events = 0;     // since start
};

// The receiver's in-memory event log: assigns sequences 1, 2, 3, ... (never
// reused) and `received_at` under one lock, so sequence order is append
// order, and retains the newest events within a count and a byte budget,
// evicting the oldest. Owned by ReceiverServer. Thread-safe; no call blocks
// beyond a short critical section.
class EventLog {
 public:
  struct Options {
    size_t max_events = 1000000;
    size_t max_bytes = size_t{512} << 20;
  };

  explicit EventLog(const Options& options);

  // Makes the log durable (--data_dir): sequences continue after the
  // disk's last record, every Append() is written to `disk` and returns once
  // durable per its fsync policy, and reads older than the in-memory window
  // come from disk (the options above then bound memory only). Call once,
  // before any other call. kFailedPrecondition after an Append().
  absl::Status AttachDisk(std::unique_ptr<DiskLog> disk);
  const DiskLog* disk() const { return disk_.get(); }

  // Appends `event` (its sequence and received_at are overwritten) and
  // returns the stored record. kUnavailable once Close() ran (the receiver
  // is draining: the sender should retry later); kResourceExhausted when the
  // record alone is larger than the byte budget (it could never be
  // retained). With a disk: kUnavailable when the disk write or fsync
  // fails (full, unwritable), and blocks until the record is durable.
  absl::StatusOr<std::shared_ptr<const LogRecord>> Append(
      v1::NgsiEvent event, std::shared_ptr<const NotificationRequest> request);

  // The record with `sequence`. Null (and OK) when it is not appended yet;
  // kOutOfRange naming the earliest retained sequence when it was evicted.
  // With a disk: null until the record is durable; older records are read
  // from disk (a short pread).
  absl::StatusOr<std::shared_ptr<const LogRecord>> Read(
      uint64_t sequence) const;

  // Up to `max` consecutive records from `sequence` on, appended to `out`,
  // under one lock (a catching-up reader would otherwise take the lock once
  // per event against every intake thread). Nothing when `sequence` is not
  // appended (or not durable) yet; errors as Read(). Records behind the
  // in-memory window come one at a time from disk. Read() is this with
  // max 1.
  absl::Status ReadRange(uint64_t sequence, size_t max,
                         std::deque<std::shared_ptr<const LogRecord>>& out) const;

  LogStats stats() const;
  uint64_t latest_sequence() const;

  // Refuses further appends (kUnavailable). Reads keep working. Idempotent.
  void Close();

 private:
  const Options options_;
  mutable absl::Mutex mu_;
  std::deque<std::shared_ptr<const LogRecord>> records_ ABSL_GUARDED_BY(mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t evicted_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // Set once by AttachDisk() before serving; called under mu_ only for
  // Append (so that sequence order is file order; DiskLog calls nothing).
  std::unique_ptr<DiskLog> disk_;
};

}  // namespace ngsi_bridge::receiver
