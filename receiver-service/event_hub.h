#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "receiver-service/event_log.h"

namespace ngsi_bridge::receiver {

// A consumer of appended records (a gRPC subscriber, a line listener).
// Implementations are thread-safe: Offer() runs on intake threads.
class EventSink {
 public:
  virtual ~EventSink() = default;
  // Takes a record just appended to the log. Must never block: a sink queues
  // within a bound of its own and, when full, drops its oldest entry and
  // counts it (recovering from the log, or ending the consumer, as it sees
  // fit). Records may arrive slightly out of sequence order (concurrent
  // intake threads).
  virtual void Offer(const std::shared_ptr<const LogRecord>& record) = 0;
  // The hub is closing: finish the consumer. Called once, without hub lock.
  virtual void OnHubClosed() = 0;

  // For /metrics: a stable name, how far behind the log head it is, and how
  // many entries its queue dropped.
  virtual std::string consumer_name() const = 0;
  virtual uint64_t lag(uint64_t latest_sequence) const = 0;
  virtual uint64_t dropped_count() const = 0;
};

// Fans published records out to attached sinks. Thread-safe. Publish()
// takes a snapshot of the sink list (copy-on-write, one shared_ptr copy) and
// offers with no lock held, so a slow sink never holds up intake or other
// sinks. Owned by ReceiverServer.
class EventHub {
 public:
  // Offers `record` to every attached sink. Never blocks.
  void Publish(const std::shared_ptr<const LogRecord>& record);

  // kUnavailable after Close().
  absl::Status Attach(std::shared_ptr<EventSink> sink);
  // Idempotent; a sink may still receive an Offer() already under way.
  void Detach(const EventSink* sink);
  // Detaches every sink and calls OnHubClosed() on each. Idempotent.
  void Close();

  // A snapshot of the attached sinks (metrics).
  std::vector<std::shared_ptr<EventSink>> sinks() const;
  size_t sink_count() const;

 private:
  using SinkList = std::vector<std::shared_ptr<EventSink>>;
  mutable absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<const SinkList> sinks_ ABSL_GUARDED_BY(mu_) =
      std::make_shared<const SinkList>();
};

}  // namespace ngsi_bridge::receiver
