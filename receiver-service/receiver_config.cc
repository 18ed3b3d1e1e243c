#include "receiver-service/receiver_config.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace ngsi_bridge::receiver {
namespace {

absl::Status CheckPort(const char* name, int port) {
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " out of range 0..65535: ", port));
  }
  return absl::OkStatus();
}

bool IsLineFormat(const std::string& format) {
  return format == "event-json" || format == "fpc" || format == "body";
}

}  // namespace

absl::Status ParseLineListener(const std::string& text,
                               LineListenerConfig& out) {
  const std::vector<std::string> parts = absl::StrSplit(text, ':');
  int port = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &port) ||
      !IsLineFormat(parts[1])) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--line_listener wants PORT:FORMAT with FORMAT one of event-json, "
        "fpc, body; got '",
        text, "'"));
  }
  out.port = port;
  out.format = parts[1];
  return absl::OkStatus();
}

absl::Status ReceiverConfig::Validate() const {
  if (absl::Status s = CheckPort("http_port", http_port); !s.ok()) return s;
  if (absl::Status s = CheckPort("grpc_port", grpc_port); !s.ok()) return s;
  if (absl::Status s = CheckPort("admin_port", admin_port); !s.ok()) return s;
  struct Positive {
    const char* name;
    int64_t value;
  };
  for (const Positive& field : {
           Positive{"max_body_bytes", max_body_bytes},
           Positive{"max_json_depth", max_json_depth},
           Positive{"max_entities", max_entities},
           Positive{"http_threads", http_threads},
           Positive{"http_keep_alive_max", http_keep_alive_max},
           Positive{"http_backlog", http_backlog},
           Positive{"log_max_events", log_max_events},
           Positive{"log_max_bytes", log_max_bytes},
           Positive{"subscriber_queue", subscriber_queue},
           Positive{"fsync_group_ms", fsync_group_ms},
           Positive{"log_segment_bytes", log_segment_bytes},
           Positive{"group_session_timeout_ms", group_session_timeout_ms},
           Positive{"line_client_buffer_bytes", line_client_buffer_bytes}}) {
    if (field.value <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", field.name, " must be positive; got ",
                       field.value));
    }
  }
  if (!http_path.empty() && http_path[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        "--http_path must be empty (any path) or start with '/'; got '",
        http_path, "'"));
  }
  for (const LineListenerConfig& listener : line_listeners) {
    if (absl::Status s = CheckPort("line_port", listener.port); !s.ok()) {
      return s;
    }
    if (!IsLineFormat(listener.format)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--line_format must be event-json, fpc or body; got '",
                       listener.format, "'"));
    }
  }
  if (fsync != "always" && fsync != "group" && fsync != "none") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--fsync must be always, group or none; got '", fsync, "'"));
  }
  if (log_disk_max_bytes < 0 || log_max_age_seconds < 0) {
    return absl::InvalidArgumentError(
        "--log_disk_max_bytes and --log_max_age_seconds must be >= 0 "
        "(0 = unbounded)");
  }
  if (http_engine != "auto" && http_engine != "event-loop" &&
      http_engine != "httplib") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--http_engine must be auto, event-loop or httplib; got '",
        http_engine, "'"));
  }
  if (http_loops < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--http_loops must be >= 0 (0: one per core); got ", http_loops));
  }
  if (parse_concurrency < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--parse_concurrency must be >= 0 (0: one per core); got ",
        parse_concurrency));
  }
  if (http_worker_nice < 0 || http_worker_nice > 19) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--http_worker_nice must be 0..19 (raising priority needs "
        "privileges the receiver should not have); got ",
        http_worker_nice));
  }
  if (reconcile_interval_seconds <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--reconcile_interval_seconds must be positive; got ",
                     reconcile_interval_seconds));
  }
  return absl::OkStatus();
}

bool ReceiverConfig::UsesEventLoop() const {
  if (http_engine != "auto") return http_engine == "event-loop";
  const bool waits_for_disk = !data_dir.empty() && fsync != "none";
  return !security.http_tls && !waits_for_disk;
}

}  // namespace ngsi_bridge::receiver
