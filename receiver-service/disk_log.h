#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ngsi_bridge/v1/ngsi.pb.h"

namespace ngsi_bridge::common {
class MetricsRegistry;
}

namespace ngsi_bridge::receiver {

struct ReceiverConfig;

enum class FsyncPolicy {
  kAlways,  // every append is fsync'ed before it is acknowledged
  kGroup,   // one fsync per group interval covers every append before it
  kNone,    // written to the OS only (survives a crash of the process, not
            // of the machine)
};

// "always" | "group" | "none"; kInvalidArgument naming the value otherwise.
absl::StatusOr<FsyncPolicy> ParseFsyncPolicy(absl::string_view text);

// What Open() found on disk.
struct DiskLogRecovery {
  uint64_t segments = 0;
  uint64_t records = 0;
  uint64_t next_sequence = 1;
  uint64_t truncated_bytes = 0;  // torn or corrupt tail cut at start
  std::string problem;           // "" when the log ended cleanly
};

// Counters and sizes for /metrics.
struct DiskLogStats {
  uint64_t earliest_sequence = 0;  // 0 when no record is retained
  uint64_t written_sequence = 0;   // last sequence written to a segment
  uint64_t durable_sequence = 0;   // last sequence durable per the policy
  uint64_t segments = 0;
  uint64_t bytes = 0;
  uint64_t fsyncs = 0;
  uint64_t write_errors = 0;
  uint64_t truncated_bytes = 0;
  uint64_t deleted_segments = 0;
};

// The receiver's durable event log (--data_dir): an append-only sequence of
// segment files (format in log_segment.h) with retention by size and age
// and a selectable fsync policy. Open() recovers the folder: the first
// invalid record ends the log (the torn tail of a crash), it is truncated
// and reported, later segments are set aside as "*.corrupt", and sequences
// continue after the last valid record.
//
// Owned by EventLog, which calls Append() under its own lock (so that
// sequence order is file order) and WaitDurable() without it. Thread-safe.
// Lock order: sync_mu_ before mu_; nothing else is called under either.
class DiskLog {
 public:
  struct Options {
    std::string dir;
    FsyncPolicy fsync = FsyncPolicy::kGroup;
    absl::Duration group_interval = absl::Milliseconds(1);
    uint64_t segment_bytes = uint64_t{64} << 20;
    uint64_t max_bytes = uint64_t{1} << 30;  // 0 = unbounded
    absl::Duration max_age = absl::InfiniteDuration();
  };

  // Creates `dir` when missing, recovers it and starts the sync thread.
  // kInvalidArgument for bad options; kFailedPrecondition when the folder
  // cannot be created, read or written.
  static absl::StatusOr<std::unique_ptr<DiskLog>> Open(const Options& options);
  ~DiskLog();

  const DiskLogRecovery& recovery() const { return recovery_; }

  // Writes the record of `sequence` (the one after the last written) to the
  // active segment, rolling to a new segment past segment_bytes. Does not
  // fsync. kUnavailable when the write fails (disk full, folder gone): the
  // file is cut back to where it was, so nothing half-written remains and
  // the next Append may succeed once space returns. kFailedPrecondition
  // after Shutdown().
  absl::Status Append(uint64_t sequence, const v1::NgsiEvent& event);
  // The same with the event already serialized (EventLog has its bytes).
  absl::Status Append(uint64_t sequence, absl::string_view serialized_event);

  // Blocks until `sequence` (already appended) is durable per the policy:
  // kAlways fsyncs (one fsync covers every waiter it finds), kGroup waits for
  // the sync thread's next fsync, kNone returns at once. kUnavailable when
  // the fsync failed or the log shut down first.
  absl::Status WaitDurable(uint64_t sequence);

  // The last sequence readers may be given: durable per the policy.
  uint64_t durable_sequence() const;
  uint64_t earliest_sequence() const;

  // The event of `sequence`. kOutOfRange when retention deleted it (or it
  // precedes the log), kNotFound when not written yet, kDataLoss when the
  // record on disk is damaged. A short pread; never waits for writers.
  absl::StatusOr<v1::NgsiEvent> Read(uint64_t sequence) const;

  DiskLogStats stats() const;

  // Deletes whole segments (never the active one) beyond max_bytes or older
  // than max_age. The sync thread runs it every second; public for tests.
  void EnforceRetention();

  // Syncs what was written, stops the sync thread, fails later appends and
  // waiters. Reads keep working. Idempotent.
  void Shutdown();

 private:
  struct Segment;

  explicit DiskLog(const Options& options);
  absl::Status Recover();
  absl::StatusOr<std::shared_ptr<Segment>> CreateSegment(uint64_t first)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RollLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // fsyncs the active segment; durable_ advances to what it covered.
  absl::Status SyncActive() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);
  void SyncLoop();
  void SyncDirectory() const;

  const Options options_;
  DiskLogRecovery recovery_;

  absl::Mutex sync_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<Segment>> segments_ ABSL_GUARDED_BY(mu_);
  uint64_t written_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t durable_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t fsyncs_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t write_errors_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t deleted_segments_ ABSL_GUARDED_BY(mu_) = 0;
  bool sync_failed_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;   // no more appends
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;  // final sync done
  std::string encode_buffer_ ABSL_GUARDED_BY(mu_);
  std::thread sync_thread_;
};

// DiskLog options from the receiver's flags (data_dir, fsync, ...).
absl::StatusOr<DiskLog::Options> DiskLogOptionsFromConfig(
    const ReceiverConfig& config);

// ngsi_receiver_disk_log_* gauges; `log` must outlive `metrics`' renders.
void RegisterDiskLogMetrics(const DiskLog* log,
                            common::MetricsRegistry* metrics);

}  // namespace ngsi_bridge::receiver
