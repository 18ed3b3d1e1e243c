#include "receiver-service/disk_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "receiver-service/event_log.h"
#include "receiver-service/log_segment.h"
#include "tests/testing/scratch_dir.h"

namespace ngsi_bridge::receiver {
namespace {

namespace fs = std::filesystem;

v1::NgsiEvent Event(uint64_t sequence, const std::string& id = "Room1") {
  v1::NgsiEvent event;
  event.set_sequence(sequence);
  event.set_service("smartcity");
  // ~140 bytes a record: 4 KiB test segments roll every ~30 records.
  event.set_service_path("/" + std::string(100, 'p'));
  event.add_entities()->set_id(id);
  return event;
}

DiskLog::Options Opts(const std::string& dir,
                      FsyncPolicy fsync = FsyncPolicy::kNone) {
  DiskLog::Options options;
  options.dir = dir;
  options.fsync = fsync;
  options.segment_bytes = 4096;
  options.max_bytes = 0;
  return options;
}

void AppendRange(DiskLog& log, uint64_t from, uint64_t to) {
  for (uint64_t s = from; s <= to; ++s) {
    ASSERT_TRUE(log.Append(s, Event(s, absl::StrCat("e", s))).ok()) << s;
    ASSERT_TRUE(log.WaitDurable(s).ok());
  }
}

std::vector<fs::path> Segments(const std::string& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".seg") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(LogSegmentTest, Crc32cMatchesTheStandardCheckValue) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
}

TEST(LogSegmentTest, EncodedRecordsScanBack) {
  std::string data(kSegmentMagic, kSegmentHeaderBytes);
  EncodeRecord(7, "alpha", data);
  EncodeRecord(8, "beta", data);
  const SegmentScan scan = ScanSegment(data, 7);
  EXPECT_EQ(scan.problem, "");
  ASSERT_EQ(scan.offsets.size(), 2u);
  EXPECT_EQ(scan.offsets[0], kSegmentHeaderBytes);
  EXPECT_EQ(scan.valid_bytes, data.size());
  EXPECT_EQ(SegmentFileName(7), "00000000000000000007.seg");
  uint64_t first = 0;
  EXPECT_TRUE(ParseSegmentFileName("00000000000000000007.seg", first));
  EXPECT_EQ(first, 7u);
  EXPECT_FALSE(ParseSegmentFileName("7.seg", first));
}

TEST(LogSegmentTest, ScanStopsAtTornAndCorruptRecords) {
  std::string data(kSegmentMagic, kSegmentHeaderBytes);
  EncodeRecord(1, "alpha", data);
  const size_t first_end = data.size();
  EncodeRecord(2, "beta", data);
  // Torn: the last record lacks its final byte.
  SegmentScan torn = ScanSegment(data.substr(0, data.size() - 1), 1);
  EXPECT_NE(torn.problem, "");
  EXPECT_EQ(torn.offsets.size(), 1u);
  EXPECT_EQ(torn.valid_bytes, first_end);
  // Corrupt: one payload bit flipped.
  std::string flipped = data;
  flipped[data.size() - 2] ^= 0x01;
  SegmentScan corrupt = ScanSegment(flipped, 1);
  EXPECT_NE(corrupt.problem.find("checksum"), std::string::npos);
  EXPECT_EQ(corrupt.valid_bytes, first_end);
  // A sequence out of place ends the log too.
  SegmentScan wrong_start = ScanSegment(data, 5);
  EXPECT_TRUE(wrong_start.offsets.empty());
  // Zeroes (a preallocated or half-flushed tail) are not records.
  std::string zeroes = data.substr(0, first_end) + std::string(64, '\0');
  EXPECT_EQ(ScanSegment(zeroes, 1).offsets.size(), 1u);
}

TEST(DiskLogTest, SequencesContinueAcrossReopen) {
  const testing::ScratchDir dir;
  {
    auto log = DiskLog::Open(Opts(dir.path()));
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_EQ((*log)->recovery().next_sequence, 1u);
    AppendRange(**log, 1, 100);
  }
  auto log = DiskLog::Open(Opts(dir.path()));
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->recovery().next_sequence, 101u);
  EXPECT_EQ((*log)->recovery().problem, "");
  EXPECT_GT((*log)->stats().segments, 1u);  // 4 KiB segments rolled
  for (uint64_t s = 1; s <= 100; ++s) {
    absl::StatusOr<v1::NgsiEvent> event = (*log)->Read(s);
    ASSERT_TRUE(event.ok()) << s << " " << event.status();
    EXPECT_EQ(event->sequence(), s);
    EXPECT_EQ(event->entities(0).id(), absl::StrCat("e", s));
  }
  EXPECT_EQ((*log)->Read(101).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE((*log)->Append(101, Event(101)).ok());
  EXPECT_FALSE((*log)->Append(103, Event(103)).ok());  // no gaps
}

TEST(DiskLogTest, TornTailIsTruncatedAndNeverServed) {
  const testing::ScratchDir dir;
  {
    auto log = DiskLog::Open(Opts(dir.path()));
    ASSERT_TRUE(log.ok());
    AppendRange(**log, 1, 10);
  }
  const fs::path last = Segments(dir.path()).back();
  const uint64_t size = fs::file_size(last);
  fs::resize_file(last, size - 3);  // the crash tore the last record
  {
    std::ofstream garbage(Segments(dir.path()).back(), std::ios::app);
    garbage << "xx";
  }
  auto log = DiskLog::Open(Opts(dir.path()));
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->recovery().next_sequence, 10u);
  EXPECT_NE((*log)->recovery().problem, "");
  EXPECT_GT((*log)->recovery().truncated_bytes, 0u);
  EXPECT_EQ((*log)->stats().truncated_bytes,
            (*log)->recovery().truncated_bytes);
  EXPECT_EQ((*log)->Read(10).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE((*log)->Read(9).ok());
  // Appends continue right after the last valid record, on a clean tail.
  ASSERT_TRUE((*log)->Append(10, Event(10, "again")).ok());
  (*log)->Shutdown();
  auto reopened = DiskLog::Open(Opts(dir.path()));
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->recovery().problem, "");
  EXPECT_EQ((*reopened)->Read(10)->entities(0).id(), "again");
}

TEST(DiskLogTest, CorruptRecordEndsTheLogAndLaterSegmentsAreSetAside) {
  const testing::ScratchDir dir;
  {
    auto log = DiskLog::Open(Opts(dir.path()));
    ASSERT_TRUE(log.ok());
    AppendRange(**log, 1, 200);
  }
  const std::vector<fs::path> before = Segments(dir.path());
  ASSERT_GE(before.size(), 3u);
  // Flip a byte inside the first record's payload of the second segment.
  {
    std::fstream file(before[1], std::ios::in | std::ios::out |
                                     std::ios::binary);
    file.seekg(kSegmentHeaderBytes + kRecordHeaderBytes + 2);
    char c = 0;
    file.read(&c, 1);
    c ^= 0x40;
    file.seekp(kSegmentHeaderBytes + kRecordHeaderBytes + 2);
    file.write(&c, 1);
  }
  uint64_t second_first = 0;
  ASSERT_TRUE(
      ParseSegmentFileName(before[1].filename().string(), second_first));
  auto log = DiskLog::Open(Opts(dir.path()));
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_NE((*log)->recovery().problem.find("checksum"), std::string::npos);
  EXPECT_EQ((*log)->recovery().next_sequence, second_first);
  EXPECT_EQ(Segments(dir.path()).size(), 2u);
  size_t corrupt = 0;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    if (entry.path().extension() == ".corrupt") ++corrupt;
  }
  EXPECT_EQ(corrupt, before.size() - 2);
  EXPECT_TRUE((*log)->Read(second_first - 1).ok());
  EXPECT_FALSE((*log)->Read(second_first).ok());
}

TEST(DiskLogTest, ReadDetectsDamageAfterOpen) {
  const testing::ScratchDir dir;
  auto log = DiskLog::Open(Opts(dir.path()));
  ASSERT_TRUE(log.ok());
  AppendRange(**log, 1, 3);
  const fs::path path = Segments(dir.path()).front();
  const int fd = open(path.c_str(), O_RDWR);
  const char bad = 'Z';
  ASSERT_EQ(pwrite(fd, &bad, 1,
                   kSegmentHeaderBytes + kRecordHeaderBytes + 1),
            1);
  close(fd);
  EXPECT_EQ((*log)->Read(1).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE((*log)->Read(2).ok());
}

TEST(DiskLogTest, RetentionDeletesWholeOldSegmentsBySize) {
  const testing::ScratchDir dir;
  DiskLog::Options options = Opts(dir.path());
  options.max_bytes = 3 * 4096;
  auto log = DiskLog::Open(options);
  ASSERT_TRUE(log.ok());
  AppendRange(**log, 1, 500);
  (*log)->EnforceRetention();
  const DiskLogStats stats = (*log)->stats();
  EXPECT_LE(stats.bytes, options.max_bytes);
  EXPECT_GT(stats.deleted_segments, 0u);
  EXPECT_GT(stats.earliest_sequence, 1u);
  EXPECT_EQ((*log)->Read(1).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_TRUE((*log)->Read(stats.earliest_sequence).ok());
  EXPECT_TRUE((*log)->Read(500).ok());
  EXPECT_EQ(Segments(dir.path()).size(), stats.segments);
}

TEST(DiskLogTest, RetentionByAgeKeepsTheActiveSegment) {
  const testing::ScratchDir dir;
  DiskLog::Options options = Opts(dir.path());
  options.max_age = absl::Milliseconds(50);
  auto log = DiskLog::Open(options);
  ASSERT_TRUE(log.ok());
  AppendRange(**log, 1, 200);
  absl::SleepFor(absl::Milliseconds(100));
  (*log)->EnforceRetention();
  EXPECT_EQ((*log)->stats().segments, 1u);
  EXPECT_TRUE((*log)->Read(200).ok());
  ASSERT_TRUE((*log)->Append(201, Event(201)).ok());
}

TEST(DiskLogTest, GroupCommitSharesOneFsyncAmongConcurrentWriters) {
  const testing::ScratchDir dir;
  DiskLog::Options options = Opts(dir.path(), FsyncPolicy::kGroup);
  options.segment_bytes = 64 << 20;
  options.group_interval = absl::Milliseconds(20);
  auto log = DiskLog::Open(options);
  ASSERT_TRUE(log.ok());
  absl::Mutex append_mu;  // EventLog's role: one appender at a time
  uint64_t next = 1;
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  constexpr int kWriters = 8, kEach = 10;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        uint64_t sequence = 0;
        {
          absl::MutexLock lock(&append_mu);
          sequence = next++;
          if (!(*log)->Append(sequence, Event(sequence)).ok()) ++failures;
        }
        // Acknowledged only once durable: the sync thread covered it.
        if (!(*log)->WaitDurable(sequence).ok()) ++failures;
        if ((*log)->durable_sequence() < sequence) ++failures;
      }
    });
  }
  for (auto& writer : writers) writer.join();
  EXPECT_EQ(failures.load(), 0);
  const DiskLogStats stats = (*log)->stats();
  EXPECT_EQ(stats.durable_sequence, uint64_t{kWriters * kEach});
  // 80 acknowledged appends, far fewer fsyncs (one per 20 ms group).
  EXPECT_LT(stats.fsyncs, uint64_t{kWriters * kEach} / 2);
  EXPECT_GE(stats.fsyncs, 1u);
}

TEST(DiskLogTest, AlwaysIsDurableOnReturn) {
  const testing::ScratchDir dir;
  auto log = DiskLog::Open(Opts(dir.path(), FsyncPolicy::kAlways));
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->Append(1, Event(1)).ok());
  EXPECT_EQ((*log)->durable_sequence(), 0u);
  ASSERT_TRUE((*log)->WaitDurable(1).ok());
  EXPECT_EQ((*log)->durable_sequence(), 1u);
  EXPECT_EQ((*log)->stats().fsyncs, 1u);
}

TEST(DiskLogTest, UnwritableFolderFailsTheOpen) {
  if (geteuid() == 0) GTEST_SKIP() << "root writes anywhere";
  const testing::ScratchDir dir;
  chmod(dir.path().c_str(), 0500);
  EXPECT_FALSE(DiskLog::Open(Opts(dir.path() + "/sub")).ok());
  chmod(dir.path().c_str(), 0700);
}

TEST(DiskLogTest, ParsesFsyncPolicies) {
  EXPECT_EQ(*ParseFsyncPolicy("always"), FsyncPolicy::kAlways);
  EXPECT_EQ(*ParseFsyncPolicy("group"), FsyncPolicy::kGroup);
  EXPECT_EQ(*ParseFsyncPolicy("none"), FsyncPolicy::kNone);
  EXPECT_FALSE(ParseFsyncPolicy("sometimes").ok());
}

TEST(EventLogDiskTest, OlderRecordsComeFromDiskAndSequencesContinue) {
  const testing::ScratchDir dir;
  EventLog::Options memory;
  memory.max_events = 10;  // the in-memory window
  {
    EventLog log(memory);
    auto disk = DiskLog::Open(Opts(dir.path(), FsyncPolicy::kGroup));
    ASSERT_TRUE(disk.ok());
    ASSERT_TRUE(log.AttachDisk(*std::move(disk)).ok());
    for (int i = 1; i <= 50; ++i) {
      auto record = log.Append(Event(0, absl::StrCat("e", i)), nullptr);
      ASSERT_TRUE(record.ok()) << record.status();
      EXPECT_EQ((*record)->sequence(), static_cast<uint64_t>(i));
    }
    EXPECT_EQ(log.stats().retained_events, 10u);
    EXPECT_EQ(log.stats().earliest_sequence, 1u);
    auto old = log.Read(3);  // evicted from memory, still on disk
    ASSERT_TRUE(old.ok()) << old.status();
    EXPECT_EQ((*old)->event.entities(0).id(), "e3");
    log.Close();
    EXPECT_TRUE(log.Read(4).ok());  // reads survive Close()
    EXPECT_EQ(log.Append(Event(0), nullptr).status().code(),
              absl::StatusCode::kUnavailable);
  }
  EventLog log(memory);
  auto disk = DiskLog::Open(Opts(dir.path(), FsyncPolicy::kGroup));
  ASSERT_TRUE(disk.ok());
  ASSERT_TRUE(log.AttachDisk(*std::move(disk)).ok());
  EXPECT_EQ(log.latest_sequence(), 50u);
  auto next = log.Append(Event(0, "after"), nullptr);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ((*next)->sequence(), 51u);
  auto first = log.Read(1);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ((*first)->event.entities(0).id(), "e1");
}

}  // namespace
}  // namespace ngsi_bridge::receiver
