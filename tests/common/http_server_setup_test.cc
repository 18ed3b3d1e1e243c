#include "common/http_server_setup.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "httplib.h"

namespace ngsi_bridge::common {
namespace {

// The nice value of every task's thread, for `jobs` tasks run by a pool
// built from `tuning`.
std::vector<int> TaskNiceValues(const HttpServerTuning& tuning, int jobs) {
  std::unique_ptr<httplib::TaskQueue> pool(NewTaskQueue(tuning));
  absl::Mutex mu;
  std::vector<int> seen;
  for (int i = 0; i < jobs; ++i) {
    pool->enqueue([&] {
      errno = 0;
      const int nice = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
      absl::MutexLock lock(&mu);
      seen.push_back(errno == 0 ? nice : -100);
    });
  }
  pool->shutdown();  // runs what was queued, joins
  return seen;
}

int OwnNice() {
  errno = 0;
  const int nice = getpriority(PRIO_PROCESS, 0);
  EXPECT_EQ(errno, 0);
  return nice;
}

TEST(HttpServerSetupTest, WorkersRunAtTheProcessNiceValuePlusWorkerNice) {
  const int base = OwnNice();
  if (base > 14) GTEST_SKIP() << "the test process already runs at nice " << base;
  for (const size_t max_threads : {size_t{0}, size_t{6}}) {  // fixed, elastic
    HttpServerTuning tuning;
    tuning.worker_threads = 3;
    tuning.max_worker_threads = max_threads;
    tuning.worker_nice = 5;
    const std::vector<int> seen = TaskNiceValues(tuning, 20);
    ASSERT_EQ(seen.size(), 20u);
    for (const int nice : seen) EXPECT_EQ(nice, base + 5) << max_threads;
  }
  EXPECT_EQ(OwnNice(), base) << "the caller's own thread is left alone";
}

TEST(HttpServerSetupTest, WorkerNiceZeroLeavesWorkersAtTheProcessValue) {
  const int base = OwnNice();
  HttpServerTuning tuning;
  tuning.worker_threads = 2;
  for (const int nice : TaskNiceValues(tuning, 5)) EXPECT_EQ(nice, base);
}

TEST(HttpServerSetupTest, WorkerNiceIsCappedAtNineteen) {
  const int base = OwnNice();
  HttpServerTuning tuning;
  tuning.worker_threads = 1;
  tuning.worker_nice = 30;
  for (const int nice : TaskNiceValues(tuning, 2)) {
    EXPECT_EQ(nice, std::min(19, base + 30));
  }
}

}  // namespace
}  // namespace ngsi_bridge::common
