#include "receiver-service/disk_log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/metrics.h"
#include "receiver-service/log_segment.h"
#include "receiver-service/receiver_config.h"

namespace ngsi_bridge::receiver {

// One segment file. `fd` stays open for readers until the last reference
// goes (retention unlinks the file first); size, offsets and last_write are
// guarded by DiskLog::mu_.
struct DiskLog::Segment {
  uint64_t first = 0;
  std::string path;
  int fd = -1;
  uint64_t size = 0;
  std::vector<uint32_t> offsets;
  absl::Time last_write;

  ~Segment() {
    if (fd >= 0) close(fd);
  }
};

namespace {

std::string Errno(int error) { return strerror(error); }

bool WriteAll(int fd, const char* data, size_t size, uint64_t offset,
              int& error) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = pwrite(fd, data + done, size - done,
                             static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n < 0 ? errno : ENOSPC;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

absl::StatusOr<std::string> ReadWholeFile(int fd) {
  std::string data;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::FailedPreconditionError(Errno(errno));
    if (n == 0) return data;
    data.append(buffer, static_cast<size_t>(n));
  }
}

}  // namespace

absl::StatusOr<FsyncPolicy> ParseFsyncPolicy(absl::string_view text) {
  if (text == "always") return FsyncPolicy::kAlways;
  if (text == "group") return FsyncPolicy::kGroup;
  if (text == "none") return FsyncPolicy::kNone;
  return absl::InvalidArgumentError(absl::StrCat(
      "fsync '", text, "' is not one of always, group, none"));
}

DiskLog::DiskLog(const Options& options) : options_(options) {}

DiskLog::~DiskLog() { Shutdown(); }

absl::StatusOr<std::unique_ptr<DiskLog>> DiskLog::Open(
    const Options& options) {
  if (options.dir.empty()) {
    return absl::InvalidArgumentError("the event log needs a data_dir");
  }
  if (options.segment_bytes < 4096) {
    return absl::InvalidArgumentError(absl::StrCat(
        "log segment size ", options.segment_bytes, " is below 4096 bytes"));
  }
  std::unique_ptr<DiskLog> log(new DiskLog(options));
  if (absl::Status status = log->Recover(); !status.ok()) return status;
  log->sync_thread_ = std::thread([raw = log.get()] { raw->SyncLoop(); });
  return log;
}

absl::Status DiskLog::Recover() {
  std::error_code error;
  std::filesystem::create_directories(options_.dir, error);
  if (error) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot create data_dir ", options_.dir, ": ", error.message()));
  }
  std::vector<std::pair<uint64_t, std::string>> files;
  for (std::filesystem::directory_iterator it(options_.dir, error), end;
       !error && it != end; it.increment(error)) {
    uint64_t first = 0;
    const std::string name = it->path().filename().string();
    if (ParseSegmentFileName(name, first)) {
      files.emplace_back(first, it->path().string());
    }
  }
  if (error) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot list data_dir ", options_.dir, ": ", error.message()));
  }
  std::sort(files.begin(), files.end());

  absl::MutexLock lock(&mu_);
  uint64_t expected_first = files.empty() ? 1 : files.front().first;
  size_t i = 0;
  for (; i < files.size(); ++i) {
    const auto& [first, path] = files[i];
    if (first != expected_first) {
      recovery_.problem = absl::StrCat("segment ", path, " starts at ", first,
                                       " where ", expected_first,
                                       " was expected");
      break;
    }
    const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot open ", path, ": ", Errno(errno)));
    }
    auto segment = std::make_shared<Segment>();
    segment->first = first;
    segment->path = path;
    segment->fd = fd;
    absl::StatusOr<std::string> data = ReadWholeFile(fd);
    if (!data.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot read ", path, ": ", data.status().message()));
    }
    const SegmentScan scan = ScanSegment(*data, first);
    struct stat info {};
    segment->last_write = fstat(fd, &info) == 0
                              ? absl::FromUnixSeconds(info.st_mtime)
                              : absl::Now();
    segment->offsets = scan.offsets;
    segment->size = scan.valid_bytes;
    if (!scan.problem.empty()) {
      // The torn tail of a crash (or damage): cut so that nothing after the
      // last valid record is ever served or appended after.
      recovery_.problem = absl::StrCat(path, ": ", scan.problem);
      recovery_.truncated_bytes += scan.file_bytes - scan.valid_bytes;
      if (scan.valid_bytes < kSegmentHeaderBytes) {
        int write_error = 0;
        if (ftruncate(fd, 0) != 0 ||
            !WriteAll(fd, kSegmentMagic, kSegmentHeaderBytes, 0,
                      write_error)) {
          return absl::FailedPreconditionError(
              absl::StrCat("cannot repair ", path, ": ", Errno(errno)));
        }
        segment->size = kSegmentHeaderBytes;
      } else if (ftruncate(fd, static_cast<off_t>(scan.valid_bytes)) != 0) {
        return absl::FailedPreconditionError(
            absl::StrCat("cannot truncate ", path, ": ", Errno(errno)));
      }
      if (fsync(fd) != 0) {
        return absl::FailedPreconditionError(
            absl::StrCat("cannot sync ", path, ": ", Errno(errno)));
      }
    }
    expected_first = first + segment->offsets.size();
    bytes_ += segment->size;
    recovery_.records += segment->offsets.size();
    segments_.push_back(std::move(segment));
    if (!scan.problem.empty()) {
      ++i;
      break;
    }
  }
  // Whatever follows the first problem cannot continue the sequence: set it
  // aside for inspection rather than delete it.
  for (; i < files.size(); ++i) {
    struct stat info {};
    if (stat(files[i].second.c_str(), &info) == 0) {
      recovery_.truncated_bytes += static_cast<uint64_t>(info.st_size);
    }
    const std::string aside = files[i].second + ".corrupt";
    if (rename(files[i].second.c_str(), aside.c_str()) != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot move ", files[i].second, " aside: ", Errno(errno)));
    }
  }
  if (segments_.empty()) {
    absl::StatusOr<std::shared_ptr<Segment>> created =
        CreateSegment(expected_first);
    if (!created.ok()) {
      return absl::FailedPreconditionError(created.status().message());
    }
    segments_.push_back(*std::move(created));
    bytes_ += kSegmentHeaderBytes;
  }
  recovery_.segments = segments_.size();
  recovery_.next_sequence = expected_first;
  written_ = durable_ = expected_first - 1;
  // An unwritable folder would otherwise surface only at the first
  // notification, as 503s; refusing to start says it where it is read.
  if (access(options_.dir.c_str(), W_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data_dir ", options_.dir, " is not writable: ", Errno(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<DiskLog::Segment>> DiskLog::CreateSegment(
    uint64_t first) {
  auto segment = std::make_shared<Segment>();
  segment->first = first;
  segment->path = options_.dir + "/" + SegmentFileName(first);
  // O_TRUNC: a file with this name can only be an earlier attempt that
  // failed before holding any record.
  segment->fd = open(segment->path.c_str(),
                     O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (segment->fd < 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot create ", segment->path, ": ", Errno(errno)));
  }
  int error = 0;
  if (!WriteAll(segment->fd, kSegmentMagic, kSegmentHeaderBytes, 0, error)) {
    unlink(segment->path.c_str());
    return absl::UnavailableError(absl::StrCat(
        "cannot write ", segment->path, ": ", Errno(error)));
  }
  segment->size = kSegmentHeaderBytes;
  segment->last_write = absl::Now();
  if (options_.fsync != FsyncPolicy::kNone) {
    // The new name must survive a power cut along with its records.
    if (fsync(segment->fd) != 0) {
      const int sync_error = errno;
      unlink(segment->path.c_str());
      return absl::UnavailableError(absl::StrCat(
          "cannot sync ", segment->path, ": ", Errno(sync_error)));
    }
    SyncDirectory();
  }
  return segment;
}

void DiskLog::SyncDirectory() const {
  const int fd = open(options_.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  fsync(fd);
  close(fd);
}

absl::Status DiskLog::RollLocked() {
  Segment& active = *segments_.back();
  if (options_.fsync != FsyncPolicy::kNone && durable_ < written_) {
    // Sealed before the next segment exists, so durable_ stays a prefix of
    // the log and the sync thread only ever syncs the newest segment.
    ++fsyncs_;
    if (fdatasync(active.fd) != 0) {
      sync_failed_ = true;
      return absl::UnavailableError(absl::StrCat(
          "cannot sync ", active.path, ": ", Errno(errno)));
    }
    durable_ = written_;
  }
  NB_ASSIGN_OR_RETURN(std::shared_ptr<Segment> next,
                      CreateSegment(written_ + 1));
  bytes_ += next->size;
  segments_.push_back(std::move(next));
  return absl::OkStatus();
}

absl::Status DiskLog::Append(uint64_t sequence, const v1::NgsiEvent& event) {
  return Append(sequence, event.SerializeAsString());
}

absl::Status DiskLog::Append(uint64_t sequence,
                             absl::string_view serialized_event) {
  absl::MutexLock lock(&mu_);
  if (stopping_) {
    return absl::UnavailableError("the receiver is shutting down");
  }
  if (sequence != written_ + 1) {
    return absl::InternalError(absl::StrCat(
        "event log append of sequence ", sequence, " after ", written_));
  }
  if (sync_failed_) {
    // After a failed fsync the kernel may have dropped the dirty pages:
    // nothing written since can be promised durable.
    return absl::UnavailableError(
        "the event log cannot sync to disk; restart the receiver");
  }
  if (segments_.back()->size >= options_.segment_bytes &&
      !segments_.back()->offsets.empty()) {
    if (absl::Status rolled = RollLocked(); !rolled.ok()) {
      ++write_errors_;
      return absl::UnavailableError(
          absl::StrCat("event log: ", rolled.message()));
    }
  }
  Segment& active = *segments_.back();
  encode_buffer_.clear();
  EncodeRecord(sequence, serialized_event, encode_buffer_);
  int error = 0;
  if (!WriteAll(active.fd, encode_buffer_.data(), encode_buffer_.size(),
                active.size, error)) {
    // Cut the partial record: a later append must follow the last whole one.
    if (ftruncate(active.fd, static_cast<off_t>(active.size)) != 0) {
      common::LogError("event log: cannot cut a failed write back",
                       {{"path", active.path}, {"error", Errno(errno)}});
    }
    ++write_errors_;
    return absl::UnavailableError(absl::StrCat(
        "event log write to ", options_.dir, " failed: ", Errno(error)));
  }
  active.offsets.push_back(static_cast<uint32_t>(active.size));
  active.size += encode_buffer_.size();
  active.last_write = absl::Now();
  bytes_ += encode_buffer_.size();
  written_ = sequence;
  if (options_.fsync == FsyncPolicy::kNone) durable_ = written_;
  return absl::OkStatus();
}

absl::Status DiskLog::SyncActive() {
  std::shared_ptr<Segment> active;
  uint64_t target = 0;
  {
    absl::MutexLock lock(&mu_);
    if (durable_ >= written_) return absl::OkStatus();
    active = segments_.back();
    target = written_;
  }
  // Without mu_: appends continue into the page cache while we sync, and
  // the next fsync covers them.
  const int result = fdatasync(active->fd);
  const int error = errno;
  absl::MutexLock lock(&mu_);
  ++fsyncs_;
  if (result != 0) {
    if (!sync_failed_) {
      common::LogError("event log fsync failed",
                       {{"path", active->path}, {"error", Errno(error)}});
    }
    sync_failed_ = true;
    return absl::UnavailableError(
        absl::StrCat("event log fsync failed: ", Errno(error)));
  }
  durable_ = std::max(durable_, target);
  return absl::OkStatus();
}

absl::Status DiskLog::WaitDurable(uint64_t sequence) {
  switch (options_.fsync) {
    case FsyncPolicy::kNone:
      return absl::OkStatus();
    case FsyncPolicy::kAlways: {
      // One fsync at a time; whoever waited behind it usually finds its
      // record covered already (group commit without a timer).
      absl::MutexLock sync_lock(&sync_mu_);
      {
        absl::MutexLock lock(&mu_);
        if (durable_ >= sequence) return absl::OkStatus();
        if (sync_failed_) {
          return absl::UnavailableError("the event log cannot sync to disk");
        }
      }
      return SyncActive();
    }
    case FsyncPolicy::kGroup:
      break;
  }
  auto settled = [this, sequence]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return durable_ >= sequence || sync_failed_ || shut_down_;
  };
  absl::MutexLock lock(&mu_, absl::Condition(&settled));
  if (durable_ >= sequence) return absl::OkStatus();
  if (sync_failed_) {
    return absl::UnavailableError("the event log cannot sync to disk");
  }
  return absl::UnavailableError("the receiver is shutting down");
}

void DiskLog::SyncLoop() {
  absl::Time last_retention = absl::Now();
  absl::Time last_sync = absl::InfinitePast();
  for (;;) {
    bool pending = false;
    {
      auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || (options_.fsync == FsyncPolicy::kGroup &&
                             written_ > durable_ && !sync_failed_);
      };
      mu_.LockWhenWithTimeout(absl::Condition(&wake), absl::Seconds(1));
      const bool stop = stopping_;
      pending = wake() && !stop;
      mu_.Unlock();
      if (stop) return;  // Shutdown() does the final sync
    }
    if (pending) {
      // At most one fsync per interval: appends arriving meanwhile share
      // the next one. Under load an fsync that takes longer than the
      // interval is followed at once by the next (no idle gap).
      const absl::Duration wait =
          last_sync + options_.group_interval - absl::Now();
      if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
      last_sync = absl::Now();
      absl::MutexLock sync_lock(&sync_mu_);
      // A failure reaches the waiters through sync_failed_.
      SyncActive().IgnoreError();
    }
    if (absl::Now() - last_retention >= absl::Seconds(1)) {
      EnforceRetention();
      last_retention = absl::Now();
    }
  }
}

void DiskLog::EnforceRetention() {
  std::vector<std::shared_ptr<Segment>> doomed;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = absl::Now();
    while (segments_.size() > 1) {
      const Segment& oldest = *segments_.front();
      const bool too_big = options_.max_bytes != 0 &&
                           bytes_ > options_.max_bytes;
      const bool too_old = options_.max_age != absl::InfiniteDuration() &&
                           now - oldest.last_write > options_.max_age;
      if (!too_big && !too_old) break;
      bytes_ -= oldest.size;
      ++deleted_segments_;
      doomed.push_back(segments_.front());
      segments_.erase(segments_.begin());
    }
  }
  // Unlinked without the lock; readers holding a segment keep its fd.
  for (const auto& segment : doomed) {
    if (unlink(segment->path.c_str()) != 0) {
      common::LogWarning("event log: cannot delete a segment",
                         {{"path", segment->path}, {"error", Errno(errno)}});
    }
  }
}

uint64_t DiskLog::durable_sequence() const {
  absl::MutexLock lock(&mu_);
  return durable_;
}

uint64_t DiskLog::earliest_sequence() const {
  absl::MutexLock lock(&mu_);
  const uint64_t first = segments_.front()->first;
  return written_ >= first ? first : 0;
}

absl::StatusOr<v1::NgsiEvent> DiskLog::Read(uint64_t sequence) const {
  std::shared_ptr<Segment> segment;
  uint64_t offset = 0;
  {
    absl::MutexLock lock(&mu_);
    if (sequence > written_) {
      return absl::NotFoundError(
          absl::StrCat("sequence ", sequence, " is not written yet"));
    }
    const uint64_t earliest = segments_.front()->first;
    if (sequence < earliest) {
      return absl::OutOfRangeError(absl::StrCat(
          "sequence ", sequence, " is no longer retained; earliest retained "
          "sequence is ", earliest));
    }
    auto it = std::upper_bound(
        segments_.begin(), segments_.end(), sequence,
        [](uint64_t value, const std::shared_ptr<Segment>& s) {
          return value < s->first;
        });
    segment = *(it - 1);
    offset = segment->offsets[sequence - segment->first];
  }
  return ReadRecordAt(segment->fd, offset, sequence);
}

DiskLogStats DiskLog::stats() const {
  absl::MutexLock lock(&mu_);
  DiskLogStats stats;
  const uint64_t first = segments_.front()->first;
  stats.earliest_sequence = written_ >= first ? first : 0;
  stats.written_sequence = written_;
  stats.durable_sequence = durable_;
  stats.segments = segments_.size();
  stats.bytes = bytes_;
  stats.fsyncs = fsyncs_;
  stats.write_errors = write_errors_;
  stats.truncated_bytes = recovery_.truncated_bytes;
  stats.deleted_segments = deleted_segments_;
  return stats;
}

void DiskLog::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (sync_thread_.joinable()) sync_thread_.join();
  if (options_.fsync != FsyncPolicy::kNone) {
    absl::MutexLock sync_lock(&sync_mu_);
    SyncActive().IgnoreError();  // logged inside; nothing is waiting now
  }
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
}

absl::StatusOr<DiskLog::Options> DiskLogOptionsFromConfig(
    const ReceiverConfig& config) {
  DiskLog::Options options;
  options.dir = config.data_dir;
  NB_ASSIGN_OR_RETURN(options.fsync, ParseFsyncPolicy(config.fsync));
  options.group_interval = absl::Milliseconds(config.fsync_group_ms);
  options.segment_bytes = static_cast<uint64_t>(config.log_segment_bytes);
  options.max_bytes = static_cast<uint64_t>(config.log_disk_max_bytes);
  options.max_age = config.log_max_age_seconds > 0
                        ? absl::Seconds(config.log_max_age_seconds)
                        : absl::InfiniteDuration();
  return options;
}

void RegisterDiskLogMetrics(const DiskLog* log,
                            common::MetricsRegistry* metrics) {
  using Samples = common::MetricsRegistry::GaugeSamples;
  auto gauge = [&](const char* name, const char* help,
                   uint64_t DiskLogStats::*field) {
    metrics->AddGaugeCallback(name, help, [log, field] {
      return Samples{{{}, static_cast<double>(log->stats().*field)}};
    });
  };
  gauge("ngsi_receiver_disk_log_bytes", "Bytes of the on-disk event log.",
        &DiskLogStats::bytes);
  gauge("ngsi_receiver_disk_log_segments", "Segment files of the event log.",
        &DiskLogStats::segments);
  gauge("ngsi_receiver_disk_log_durable_sequence",
        "Last sequence durable per the fsync policy.",
        &DiskLogStats::durable_sequence);
  gauge("ngsi_receiver_disk_log_fsyncs", "fsync calls since start (a counter).",
        &DiskLogStats::fsyncs);
  gauge("ngsi_receiver_disk_log_write_errors",
        "Appends refused because the disk write failed (answered 503; a "
        "counter).",
        &DiskLogStats::write_errors);
  gauge("ngsi_receiver_disk_log_truncated_bytes",
        "Bytes of torn or corrupt tail cut when the log was opened.",
        &DiskLogStats::truncated_bytes);
  gauge("ngsi_receiver_disk_log_deleted_segments",
        "Segments deleted by retention since start (a counter).",
        &DiskLogStats::deleted_segments);
}

}  // namespace ngsi_bridge::receiver
