#include "receiver-service/event_hub.h"

#include <algorithm>
#include <utility>

namespace ngsi_bridge::receiver {

void EventHub::Publish(const std::shared_ptr<const LogRecord>& record) {
  std::shared_ptr<const SinkList> sinks;
  {
    absl::ReaderMutexLock lock(&mu_);
    sinks = sinks_;
  }
  for (const std::shared_ptr<EventSink>& sink : *sinks) sink->Offer(record);
}

absl::Status EventHub::Attach(std::shared_ptr<EventSink> sink) {
  absl::MutexLock lock(&mu_);
  if (closed_) return absl::UnavailableError("the receiver is shutting down");
  auto next = std::make_shared<SinkList>(*sinks_);
  next->push_back(std::move(sink));
  sinks_ = std::move(next);
  return absl::OkStatus();
}

void EventHub::Detach(const EventSink* sink) {
  // Declared before the lock so it is released after it: the removed sink's
  // destructor may run here and must not run under our lock.
  std::shared_ptr<const SinkList> previous;
  absl::MutexLock lock(&mu_);
  auto next = std::make_shared<SinkList>();
  next->reserve(sinks_->size());
  for (const auto& attached : *sinks_) {
    if (attached.get() != sink) next->push_back(attached);
  }
  if (next->size() == sinks_->size()) return;
  previous = std::exchange(sinks_, std::move(next));
}

void EventHub::Close() {
  std::shared_ptr<const SinkList> sinks;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
    sinks = std::exchange(sinks_, std::make_shared<const SinkList>());
  }
  for (const std::shared_ptr<EventSink>& sink : *sinks) sink->OnHubClosed();
}

std::vector<std::shared_ptr<EventSink>> EventHub::sinks() const {
  absl::ReaderMutexLock lock(&mu_);
  return *sinks_;
}

size_t EventHub::sink_count() const {
  absl::ReaderMutexLock lock(&mu_);
  return sinks_->size();
}

}  // namespace ngsi_bridge::receiver
