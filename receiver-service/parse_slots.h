#pragma once

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace ngsi_bridge::receiver {

// Bounds how many notifications are parsed at once. Parsing is pure CPU:
// with more parses than cores running, the extra ones only take turns, and
// every runnable parser also delays the threads that deliver events (a gRPC
// stream needs several wake-ups per event). Waiting parsers sleep. 0 slots
// means no bound. Thread-safe.
class ParseSlots {
 public:
  explicit ParseSlots(int slots) : free_(slots), bounded_(slots > 0) {}

  // Holds a slot for its lifetime (blocks until one is free).
  class Held {
   public:
    explicit Held(ParseSlots& slots) : slots_(slots) { slots_.Acquire(); }
    ~Held() { slots_.Release(); }
    Held(const Held&) = delete;
    Held& operator=(const Held&) = delete;

   private:
    ParseSlots& slots_;
  };

 private:
  void Acquire() {
    if (!bounded_) return;
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* free) { return *free > 0; }, &free_));
    --free_;
  }
  void Release() {
    if (!bounded_) return;
    absl::MutexLock lock(&mu_);
    ++free_;
  }

  absl::Mutex mu_;
  int free_ ABSL_GUARDED_BY(mu_);
  const bool bounded_;
};

}  // namespace ngsi_bridge::receiver
