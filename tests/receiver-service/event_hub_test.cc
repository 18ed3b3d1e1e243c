#include "receiver-service/event_hub.h"

#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace ngsi_bridge::receiver {
namespace {

class RecordingSink : public EventSink {
 public:
  void Offer(const std::shared_ptr<const LogRecord>& record) override {
    absl::MutexLock lock(&mu_);
    sequences_.push_back(record->sequence());
  }
  void OnHubClosed() override {
    absl::MutexLock lock(&mu_);
    ++closed_;
  }
  std::string consumer_name() const override { return "recording"; }
  uint64_t lag(uint64_t) const override { return 0; }
  uint64_t dropped_count() const override { return 0; }

  std::vector<uint64_t> sequences() const {
    absl::MutexLock lock(&mu_);
    return sequences_;
  }
  int closed() const {
    absl::MutexLock lock(&mu_);
    return closed_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<uint64_t> sequences_;
  int closed_ = 0;
};

std::shared_ptr<const LogRecord> Record(uint64_t sequence) {
  auto record = std::make_shared<LogRecord>();
  record->event.set_sequence(sequence);
  return record;
}

TEST(EventHubTest, PublishesToEveryAttachedSink) {
  EventHub hub;
  auto a = std::make_shared<RecordingSink>();
  auto b = std::make_shared<RecordingSink>();
  ASSERT_TRUE(hub.Attach(a).ok());
  ASSERT_TRUE(hub.Attach(b).ok());
  hub.Publish(Record(1));
  hub.Publish(Record(2));
  EXPECT_EQ(a->sequences(), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(b->sequences(), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(hub.sink_count(), 2u);
}

TEST(EventHubTest, DetachedSinkGetsNothingMore) {
  EventHub hub;
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_TRUE(hub.Attach(sink).ok());
  hub.Publish(Record(1));
  hub.Detach(sink.get());
  hub.Detach(sink.get());  // idempotent
  hub.Publish(Record(2));
  EXPECT_EQ(sink->sequences(), (std::vector<uint64_t>{1}));
  EXPECT_EQ(hub.sink_count(), 0u);
}

TEST(EventHubTest, CloseFinishesEverySinkOnceAndRefusesAttach) {
  EventHub hub;
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_TRUE(hub.Attach(sink).ok());
  hub.Close();
  hub.Close();
  EXPECT_EQ(sink->closed(), 1);
  EXPECT_EQ(hub.Attach(std::make_shared<RecordingSink>()).code(),
            absl::StatusCode::kUnavailable);
  hub.Publish(Record(1));
  EXPECT_TRUE(sink->sequences().empty());
}

}  // namespace
}  // namespace ngsi_bridge::receiver
