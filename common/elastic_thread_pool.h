#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "httplib.h"

namespace ngsi_bridge::common {

// httplib's task queue for a server that must survive slow clients: each
// connection holds a worker for as long as it is open, so with a fixed pool
// a few connections that trickle their headers (slow-loris) stall every
// other sender. This pool starts `min_threads` workers and adds one whenever
// a connection arrives and all are busy, up to `max_threads`; at that bound
// enqueue() blocks httplib's accept loop, so a connection flood waits in the
// kernel's listen backlog instead of piling up descriptors and memory here.
// Workers never exit before shutdown(). Owned by the httplib::Server;
// thread-safe.
class ElasticThreadPool : public httplib::TaskQueue {
 public:
  ElasticThreadPool(size_t min_threads, size_t max_threads);
  ~ElasticThreadPool() override;

  // Runs `fn` on a free worker, a new one, or (at max_threads) the first
  // to free up; blocks the caller until one takes it.
  void enqueue(std::function<void()> fn) override;
  // Lets queued work finish, then joins every worker. Idempotent.
  void shutdown() override;

  size_t thread_count() const;

 private:
  void Work();
  void AddWorkerLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_threads_;
  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> jobs_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  size_t idle_ ABSL_GUARDED_BY(mu_) = 0;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace ngsi_bridge::common
