#include "common/elastic_thread_pool.h"

#include <algorithm>
#include <utility>

namespace ngsi_bridge::common {

ElasticThreadPool::ElasticThreadPool(size_t min_threads, size_t max_threads)
    : max_threads_(std::max<size_t>({min_threads, max_threads, 1})) {
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < std::max<size_t>(min_threads, 1); ++i) {
    AddWorkerLocked();
  }
}

ElasticThreadPool::~ElasticThreadPool() { shutdown(); }

void ElasticThreadPool::AddWorkerLocked() {
  threads_.emplace_back([this] { Work(); });
}

size_t ElasticThreadPool::thread_count() const {
  absl::MutexLock lock(&mu_);
  return threads_.size();
}

void ElasticThreadPool::enqueue(std::function<void()> fn) {
  {
    absl::MutexLock lock(&mu_);
    // At the bound, wait until a queued job can be taken at once: a worker
    // is idle for every job already waiting.
    const auto can_queue = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return shut_down_ || threads_.size() < max_threads_ ||
             idle_ > jobs_.size();
    };
    mu_.Await(absl::Condition(&can_queue));
    if (!shut_down_) {
      jobs_.push_back(std::move(fn));
      if (idle_ < jobs_.size() && threads_.size() < max_threads_) {
        AddWorkerLocked();
      }
      return;
    }
  }
  // After shutdown the job still runs (here), so its socket gets closed.
  fn();
}

void ElasticThreadPool::shutdown() {
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_ && threads_.empty()) return;
    shut_down_ = true;
    threads.swap(threads_);
  }
  for (std::thread& thread : threads) thread.join();
}

void ElasticThreadPool::Work() {
  while (true) {
    std::function<void()> job;
    {
      absl::MutexLock lock(&mu_);
      ++idle_;
      const auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return shut_down_ || !jobs_.empty();
      };
      mu_.Await(absl::Condition(&has_work));
      --idle_;
      if (jobs_.empty()) return;  // shut down and drained
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

}  // namespace ngsi_bridge::common
