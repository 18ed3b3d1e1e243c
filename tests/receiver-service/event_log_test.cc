#include "receiver-service/event_log.h"

#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/ngsi_json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/receiver-service/notification_test_util.h"

namespace ngsi_bridge::receiver {
namespace {

using ::testing::HasSubstr;

v1::NgsiEvent EventWithBody(size_t body_bytes) {
  v1::NgsiEvent event;
  event.set_body(std::string(body_bytes, 'x'));
  return event;
}

TEST(EventLogTest, AssignsSequencesFromOneNeverReused) {
  EventLog log({});
  for (uint64_t expected = 1; expected <= 5; ++expected) {
    auto record = log.Append(v1::NgsiEvent(), nullptr);
    ASSERT_TRUE(record.ok()) << record.status();
    EXPECT_EQ((*record)->sequence(), expected);
  }
  EXPECT_EQ(log.latest_sequence(), 5u);
}

TEST(EventLogTest, StampsReceivedAtInAppendOrder) {
  EventLog log({});
  auto first = log.Append(v1::NgsiEvent(), nullptr);
  auto second = log.Append(v1::NgsiEvent(), nullptr);
  ASSERT_TRUE(first.ok() && second.ok());
  const auto& a = (*first)->event.received_at();
  const auto& b = (*second)->event.received_at();
  EXPECT_GT(a.seconds(), 1700000000);
  EXPECT_TRUE(a.seconds() < b.seconds() ||
              (a.seconds() == b.seconds() && a.nanos() <= b.nanos()));
}

TEST(EventLogTest, EvictsOldestBeyondEventCount) {
  EventLog log({/*max_events=*/3, /*max_bytes=*/1 << 20});
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(log.Append({}, nullptr).ok());
  const LogStats stats = log.stats();
  EXPECT_EQ(stats.earliest_sequence, 3u);
  EXPECT_EQ(stats.latest_sequence, 5u);
  EXPECT_EQ(stats.retained_events, 3u);
  EXPECT_EQ(stats.evicted_events, 2u);
}

TEST(EventLogTest, EvictsOldestBeyondByteBudget) {
  EventLog log({/*max_events=*/1000, /*max_bytes=*/10000});
  for (int i = 0; i < 10; ++i) {
    // ~1 KB in memory, ~2 KB more for the cached wire bytes and line.
    ASSERT_TRUE(log.Append(EventWithBody(1000), nullptr).ok());
  }
  const LogStats stats = log.stats();
  EXPECT_LE(stats.retained_bytes, 10000u);
  EXPECT_GE(stats.retained_events, 2u);
  EXPECT_LT(stats.retained_events, 4u);
  EXPECT_EQ(stats.latest_sequence, 10u);
}

TEST(EventLogTest, CountsKeptRequestAgainstBytes) {
  EventLog log({});
  auto request = std::make_shared<NotificationRequest>();
  request->body = std::string(5000, 'y');
  auto with = log.Append({}, request);
  auto without = log.Append({}, nullptr);
  ASSERT_TRUE(with.ok() && without.ok());
  EXPECT_GE((*with)->bytes, (*without)->bytes + 5000);
  EXPECT_EQ((*with)->request->body.size(), 5000u);
}

TEST(EventLogTest, ReadReturnsRetainedRecordAndNullForFuture) {
  EventLog log({});
  ASSERT_TRUE(log.Append({}, nullptr).ok());
  auto read = log.Read(1);
  ASSERT_TRUE(read.ok());
  ASSERT_NE(*read, nullptr);
  EXPECT_EQ((*read)->sequence(), 1u);
  auto future = log.Read(2);
  ASSERT_TRUE(future.ok());
  EXPECT_EQ(*future, nullptr);
}

TEST(EventLogTest, ReadOfEvictedSequenceIsOutOfRangeNamingEarliest) {
  EventLog log({/*max_events=*/2, /*max_bytes=*/1 << 20});
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(log.Append({}, nullptr).ok());
  auto read = log.Read(1);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(read.status().message(),
              HasSubstr("earliest retained sequence is 3"));
}

std::vector<uint64_t> Sequences(
    const std::deque<std::shared_ptr<const LogRecord>>& records) {
  std::vector<uint64_t> out;
  for (const auto& record : records) out.push_back(record->sequence());
  return out;
}

TEST(EventLogTest, ReadRangeReturnsConsecutiveRecordsUpToMaxAndTheHead) {
  EventLog log({/*max_events=*/5, /*max_bytes=*/1 << 20});
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(log.Append({}, nullptr).ok());
  std::deque<std::shared_ptr<const LogRecord>> out;
  ASSERT_TRUE(log.ReadRange(4, 2, out).ok());
  EXPECT_EQ(Sequences(out), (std::vector<uint64_t>{4, 5}));
  out.clear();
  ASSERT_TRUE(log.ReadRange(6, 100, out).ok());  // stops at the head
  EXPECT_EQ(Sequences(out), (std::vector<uint64_t>{6, 7, 8}));
  out.clear();
  ASSERT_TRUE(log.ReadRange(9, 100, out).ok());  // not appended yet
  EXPECT_TRUE(out.empty());
  const absl::Status evicted = log.ReadRange(3, 100, out);
  EXPECT_EQ(evicted.code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(evicted.message(), HasSubstr("earliest retained sequence is 4"));
  EXPECT_TRUE(out.empty());
}

TEST(EventLogTest, RefusesAppendsAfterCloseButKeepsReading) {
  EventLog log({});
  ASSERT_TRUE(log.Append({}, nullptr).ok());
  log.Close();
  EXPECT_EQ(log.Append({}, nullptr).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_TRUE(log.Read(1).ok());
  EXPECT_EQ(log.latest_sequence(), 1u);
}

TEST(EventLogTest, RejectsRecordLargerThanByteBudget) {
  EventLog log({/*max_events=*/10, /*max_bytes=*/1000});
  EXPECT_EQ(log.Append(EventWithBody(5000), nullptr).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(log.latest_sequence(), 0u);  // no sequence consumed
}

TEST(LogRecordTest, WireIsTheEventSerializedOnceAndShared) {
  EventLog log({});
  v1::NgsiEvent event = EventWithBody(100);
  (*event.add_entities()->mutable_attrs())["temperature"].set_type("Number");
  auto record = log.Append(event, nullptr);
  ASSERT_TRUE(record.ok()) << record.status();
  // Concurrent first readers (gRPC streams on different threads) all get
  // the one serialization.
  std::vector<const std::string*> seen(4);
  std::vector<std::thread> readers;
  for (size_t i = 0; i < seen.size(); ++i) {
    readers.emplace_back([&, i] { seen[i] = &(*record)->wire(); });
  }
  for (std::thread& reader : readers) reader.join();
  for (const std::string* wire : seen) EXPECT_EQ(wire, seen[0]);
  EXPECT_EQ(*seen[0], (*record)->event.SerializeAsString());
  v1::NgsiEvent parsed;
  ASSERT_TRUE(parsed.ParseFromString(*seen[0]));
  EXPECT_EQ(parsed.sequence(), 1u);
  EXPECT_EQ(parsed.received_at().seconds(),
            (*record)->event.received_at().seconds());
}

// Append() serializes the event before its lock and puts the sequence and
// received_at in front under it: the bytes must be protobuf's own.
TEST(LogRecordTest, WireIsProtobufsSerializationForEveryFixture) {
  EventLog log({});
  size_t checked = 0;
  for (const std::string& name :
       testing::ListNotificationFixtures(FixtureDir())) {
    absl::StatusOr<v1::NgsiEvent> event = ParseFixture(name);
    if (!event.ok()) continue;
    event->set_sequence(999999);  // overwritten by the log
    auto record = log.Append(*std::move(event), nullptr);
    ASSERT_TRUE(record.ok()) << name << ": " << record.status();
    EXPECT_EQ((*record)->wire(), (*record)->event.SerializeAsString()) << name;
    ++checked;
  }
  EXPECT_GT(checked, 50u);
  // The first sequences take one varint byte, later ones more.
  for (int i = 0; i < 300; ++i) {
    auto record = log.Append(EventWithBody(i % 7), nullptr);
    ASSERT_TRUE(record.ok());
    ASSERT_EQ((*record)->wire(), (*record)->event.SerializeAsString());
  }
}

TEST(LogRecordTest, EventJsonLineIsRenderedOnceWithItsNewline) {
  EventLog log({});
  auto record = log.Append(EventWithBody(10), nullptr);
  ASSERT_TRUE(record.ok()) << record.status();
  const std::string& line = (*record)->event_json_line();
  EXPECT_EQ(line, common::EventToJsonLine((*record)->event) + "\n");
  EXPECT_EQ(&(*record)->event_json_line(), &line);
}

TEST(LogRecordTest, ACopyDoesNotShareTheCaches) {
  LogRecord record;
  record.event.set_sequence(1);
  const std::string first = record.wire();
  LogRecord copy = record;
  copy.event.set_sequence(2);
  EXPECT_NE(copy.wire(), first);
  EXPECT_EQ(record.wire(), first);
}

}  // namespace
}  // namespace ngsi_bridge::receiver
