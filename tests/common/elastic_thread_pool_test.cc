#include "common/elastic_thread_pool.h"

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace ngsi_bridge::common {
namespace {

TEST(ElasticThreadPoolTest, GrowsWhileAllWorkersAreBusyUpToTheBound) {
  ElasticThreadPool pool(1, 3);
  EXPECT_EQ(pool.thread_count(), 1u);
  absl::Notification release;
  std::atomic<int> started{0};
  for (int i = 0; i < 3; ++i) {
    pool.enqueue([&] {
      ++started;
      release.WaitForNotification();
    });
  }
  while (started.load() < 3) std::this_thread::yield();
  EXPECT_EQ(pool.thread_count(), 3u);

  // A fourth job waits (in enqueue) for a free worker instead of queueing.
  absl::Notification fourth_enqueued;
  std::thread producer([&] {
    pool.enqueue([&] { ++started; });
    fourth_enqueued.Notify();
  });
  EXPECT_FALSE(fourth_enqueued.WaitForNotificationWithTimeout(
      absl::Milliseconds(100)));
  release.Notify();
  fourth_enqueued.WaitForNotification();
  producer.join();
  pool.shutdown();
  EXPECT_EQ(started.load(), 4);
  EXPECT_EQ(pool.thread_count(), 0u);
}

TEST(ElasticThreadPoolTest, ReusesIdleWorkers) {
  ElasticThreadPool pool(2, 8);
  std::atomic<int> done{0};
  for (int i = 0; i < 100; ++i) {
    pool.enqueue([&] { ++done; });
    while (done.load() <= i) std::this_thread::yield();
  }
  // One job at a time never needs more than the two workers, give or take
  // one added before they first reported idle.
  EXPECT_LE(pool.thread_count(), 3u);
  pool.shutdown();
  pool.shutdown();  // idempotent
  // After shutdown a job still runs (httplib would close its socket).
  bool ran = false;
  pool.enqueue([&] { ran = true; });
  EXPECT_TRUE(ran);
}

}  // namespace
}  // namespace ngsi_bridge::common
