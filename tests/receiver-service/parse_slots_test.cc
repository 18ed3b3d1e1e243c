#include "receiver-service/parse_slots.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace ngsi_bridge::receiver {
namespace {

// The most holders seen at once when `threads` threads each take a slot
// while the first `threads` holders are kept waiting until all threads
// tried.
int MostAtOnce(ParseSlots& slots, int threads) {
  std::atomic<int> inside{0}, most{0}, tried{0};
  absl::Notification all_tried;
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([&] {
      if (++tried == threads) all_tried.Notify();
      ParseSlots::Held slot(slots);
      const int now = ++inside;
      int seen = most.load();
      while (now > seen && !most.compare_exchange_weak(seen, now)) {
      }
      // Hold the slot until every thread asked for one, so a free-for-all
      // would show up as many holders at once.
      all_tried.WaitForNotificationWithTimeout(absl::Seconds(10));
      absl::SleepFor(absl::Milliseconds(5));
      --inside;
    });
  }
  for (std::thread& t : pool) t.join();
  return most.load();
}

TEST(ParseSlotsTest, NeverMoreHoldersThanSlots) {
  ParseSlots slots(2);
  EXPECT_EQ(MostAtOnce(slots, 12), 2);
}

TEST(ParseSlotsTest, ZeroSlotsMeansNoBound) {
  ParseSlots slots(0);
  EXPECT_EQ(MostAtOnce(slots, 6), 6);
}

}  // namespace
}  // namespace ngsi_bridge::receiver
