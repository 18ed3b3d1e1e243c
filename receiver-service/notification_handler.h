#pragma once

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "common/http_message.h"
#include "common/metrics.h"
#include "receiver-service/event_hub.h"
#include "receiver-service/event_log.h"
#include "receiver-service/notification_parser.h"
#include "receiver-service/parse_slots.h"

namespace ngsi_bridge::receiver {

// What the intake answers to one notification.
using HttpAnswer = common::HttpResponse;

// The JSON error answer: {"error":<error>,"description":<description>}.
HttpAnswer ErrorAnswer(int status, absl::string_view error,
                       absl::string_view description);

// One notification from request to answer: parse, append to the log,
// publish to the hub, answer. 204 only once the event is in the log; 400
// naming what is wrong; 413 for an event the log can never hold; 503 with
// Retry-After while the log refuses appends (draining). Independent of the
// HTTP library, so it is unit-testable. `log`, `hub` and `metrics` must
// outlive it. Thread-safe; never blocks beyond the log's critical section.
class NotificationHandler {
 public:
  struct Options {
    ParseLimits limits;
    // Keep the raw request in the log (line formats `fpc` and `body`).
    bool keep_request = false;
    // Notifications parsed at once (ParseSlots); 0 = no bound.
    int parse_concurrency = 0;
  };

  NotificationHandler(const Options& options, EventLog* log, EventHub* hub,
                      common::MetricsRegistry* metrics);

  HttpAnswer Handle(NotificationRequest request);

  // Counts an answer the HTTP layer gave without calling Handle() (413 over
  // the body limit, 405), so /metrics sees every notification.
  void CountRejected(int status);

 private:
  common::Counter& CounterFor(v1::Format format, int status);

  const Options options_;
  ParseSlots parse_slots_;
  EventLog* const log_;
  EventHub* const hub_;
  common::MetricsRegistry* const metrics_;
  common::Counter& events_appended_;
  common::Counter& bytes_received_;
  common::Histogram& handle_seconds_;
  // [format][status class]: looked up once, so the hot path takes no
  // registry lock.
  static constexpr int kStatuses = 6;  // 204 400 413 503 500 405
  std::array<std::array<common::Counter*, kStatuses>, v1::Format_ARRAYSIZE>
      counters_{};
};

}  // namespace ngsi_bridge::receiver
