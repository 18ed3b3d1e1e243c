#include "receiver-service/consumer_groups.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ngsi_bridge::receiver {
namespace {

TEST(ConsumerGroupsTest, PartitionOfAnEntityIsStable) {
  // FNV-1a 64 of "Room1" modulo 64: fixed forever (offsets files and other
  // languages rely on it).
  EXPECT_EQ(GroupPartitionOf("Room1"), GroupPartitionOf(std::string("Room1")));
  EXPECT_EQ(GroupPartitionOf(""), static_cast<int>(14695981039346656037ull %
                                                   kGroupPartitions));
  std::vector<int> counts(kGroupPartitions, 0);
  for (int i = 0; i < 6400; ++i) {
    ++counts[GroupPartitionOf("urn:ngsi-ld:Room:" + std::to_string(i))];
  }
  for (int count : counts) EXPECT_GT(count, 40);  // spread, not clumped
}

TEST(ConsumerGroupsTest, EveryPartitionHasExactlyOneOwner) {
  const std::vector<std::string> members = {"a", "b", "c"};
  std::vector<int> owners(kGroupPartitions, 0);
  for (const std::string& member : members) {
    const std::vector<bool> owned = OwnedPartitions(members, member);
    int count = 0;
    for (int p = 0; p < kGroupPartitions; ++p) {
      if (owned[p]) {
        ++owners[p];
        ++count;
      }
    }
    EXPECT_GE(count, kGroupPartitions / 3);
  }
  for (int p = 0; p < kGroupPartitions; ++p) EXPECT_EQ(owners[p], 1) << p;
  const std::vector<bool> stranger = OwnedPartitions(members, "z");
  for (bool owned : stranger) EXPECT_FALSE(owned);
}

v1::NgsiEvent EventWith(uint64_t sequence, const std::vector<std::string>& ids) {
  v1::NgsiEvent event;
  event.set_sequence(sequence);
  for (const std::string& id : ids) event.add_entities()->set_id(id);
  return event;
}

// Two ids on different partitions.
std::pair<std::string, std::string> TwoPartitions() {
  const std::string first = "E0";
  for (int i = 1;; ++i) {
    std::string other = "E" + std::to_string(i);
    if (GroupPartitionOf(other) != GroupPartitionOf(first)) {
      return {first, other};
    }
  }
}

TEST(ConsumerGroupsTest, MatcherKeepsOwnedUncommittedEntitiesOnly) {
  const auto [mine, theirs] = TwoPartitions();
  std::vector<bool> owned(kGroupPartitions, false);
  owned[GroupPartitionOf(mine)] = true;
  std::vector<uint64_t> committed(kGroupPartitions, 0);
  committed[GroupPartitionOf(mine)] = 10;
  auto filter = EventMatcher::Create(v1::EventFilter());
  ASSERT_TRUE(filter.ok());
  GroupMatcher matcher(*std::move(filter), owned, committed);
  v1::NgsiEvent scratch;

  // Committed already: skipped.
  EXPECT_EQ(matcher.Apply(EventWith(10, {mine}), scratch), nullptr);
  // Another member's entity: skipped.
  EXPECT_EQ(matcher.Apply(EventWith(11, {theirs}), scratch), nullptr);
  // Ours, after the commit: as is.
  const v1::NgsiEvent whole = EventWith(11, {mine});
  EXPECT_EQ(matcher.Apply(whole, scratch), &whole);
  // Mixed: only ours, same sequence.
  const v1::NgsiEvent* split =
      matcher.Apply(EventWith(12, {theirs, mine, theirs}), scratch);
  ASSERT_NE(split, nullptr);
  EXPECT_EQ(split->sequence(), 12u);
  ASSERT_EQ(split->entities_size(), 1);
  EXPECT_EQ(split->entities(0).id(), mine);
}

}  // namespace
}  // namespace ngsi_bridge::receiver
