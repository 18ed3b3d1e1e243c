#include "receiver-service/notification_handler.h"

#include <chrono>
#include <utility>

#include "absl/strings/ascii.h"
#include "common/log.h"
#include "nlohmann/json.hpp"

namespace ngsi_bridge::receiver {
namespace {

constexpr int kStatusCodes[] = {204, 400, 413, 503, 500, 405};

int StatusIndex(int status) {
  for (int i = 0; i < 6; ++i) {
    if (kStatusCodes[i] == status) return i;
  }
  return 4;  // counted as 500
}

std::string FormatLabel(v1::Format format) {
  if (format == v1::FORMAT_UNSPECIFIED) return "unknown";
  return absl::AsciiStrToLower(v1::Format_Name(format));
}

}  // namespace

HttpAnswer ErrorAnswer(int status, absl::string_view error,
                       absl::string_view description) {
  HttpAnswer answer;
  answer.status = status;
  answer.content_type = "application/json";
  nlohmann::json body = {{"error", std::string(error)},
                         {"description", std::string(description)}};
  answer.body =
      body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return answer;
}

NotificationHandler::NotificationHandler(const Options& options,
                                         EventLog* log, EventHub* hub,
                                         common::MetricsRegistry* metrics)
    : options_(options),
      parse_slots_(options.parse_concurrency),
      log_(log),
      hub_(hub),
      metrics_(metrics),
      events_appended_(metrics->GetCounter(
          "ngsi_receiver_events_appended_total",
          "Events appended to the log (accepted notifications).")),
      bytes_received_(metrics->GetCounter(
          "ngsi_receiver_notification_bytes_total",
          "Bytes of notification bodies received.")),
      handle_seconds_(metrics->GetHistogram(
          "ngsi_receiver_notification_seconds",
          "Time from request read to answer: parse, append, publish.")) {
  for (int format = 0; format < v1::Format_ARRAYSIZE; ++format) {
    if (!v1::Format_IsValid(format)) continue;
    for (int i = 0; i < kStatuses; ++i) {
      counters_[format][i] = &metrics_->GetCounter(
          "ngsi_receiver_notifications_total",
          "Notifications received, by format and HTTP answer.",
          {{"format", FormatLabel(static_cast<v1::Format>(format))},
           {"status", std::to_string(kStatusCodes[i])}});
    }
  }
}

common::Counter& NotificationHandler::CounterFor(v1::Format format,
                                                 int status) {
  common::Counter* counter = counters_[format][StatusIndex(status)];
  if (counter == nullptr) counter = counters_[0][StatusIndex(status)];
  return *counter;
}

void NotificationHandler::CountRejected(int status) {
  CounterFor(v1::FORMAT_UNSPECIFIED, status).Increment();
}

HttpAnswer NotificationHandler::Handle(NotificationRequest request) {
  const auto start = std::chrono::steady_clock::now();
  bytes_received_.Increment(static_cast<double>(request.body.size()));
  absl::StatusOr<v1::NgsiEvent> event = [&] {
    // The append is outside the slot: with a disk it waits for a group
    // fsync, which many intake threads should share.
    ParseSlots::Held slot(parse_slots_);
    return ParseNotification(request, options_.limits);
  }();
  HttpAnswer answer;
  v1::Format format = v1::FORMAT_UNSPECIFIED;
  if (!event.ok()) {
    if (event.status().code() == absl::StatusCode::kInvalidArgument) {
      answer = ErrorAnswer(400, "BadRequest", event.status().message());
    } else {
      common::LogError("notification parser failed",
                       {{"error", event.status().ToString()}});
      answer = ErrorAnswer(500, "InternalError", event.status().message());
    }
  } else {
    format = event->format();
    std::shared_ptr<const NotificationRequest> kept;
    if (options_.keep_request) {
      kept = std::make_shared<const NotificationRequest>(std::move(request));
    }
    absl::StatusOr<std::shared_ptr<const LogRecord>> record =
        log_->Append(*std::move(event), std::move(kept));
    if (record.ok()) {
      events_appended_.Increment();
      // Before answering, so a consumer attached now sees the event live;
      // the log already holds it, so delivery does not depend on this.
      hub_->Publish(*record);
      answer.status = 204;
    } else if (record.status().code() == absl::StatusCode::kUnavailable) {
      answer = ErrorAnswer(503, "ServiceUnavailable", record.status().message());
      answer.headers.emplace_back("Retry-After", "1");
    } else if (record.status().code() ==
               absl::StatusCode::kResourceExhausted) {
      answer = ErrorAnswer(413, "RequestEntityTooLarge",
                           record.status().message());
    } else {
      answer = ErrorAnswer(500, "InternalError", record.status().message());
    }
  }
  CounterFor(format, answer.status).Increment();
  handle_seconds_.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count());
  return answer;
}

}  // namespace ngsi_bridge::receiver
