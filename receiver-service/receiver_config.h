#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "receiver-service/receiver_security.h"

namespace ngsi_bridge::receiver {

// One TCP line listener: a port and the line format it writes.
struct LineListenerConfig {
  int port = 0;
  std::string format = "event-json";  // event-json | fpc | body
};

// Everything ngsi-receiver is configured with; filled from flags (and their
// NGSI_RECEIVER_* environment twins) by main.cc. Plain value type.
struct ReceiverConfig {
  std::string host = "0.0.0.0";
  int http_port = 8061;
  int grpc_port = 50051;
  int admin_port = 9090;
  // Bearer token the admin port wants but on /healthz, /readyz; "" = none.
  std::string admin_token_file;
  std::vector<LineListenerConfig> line_listeners = {{9998, "event-json"}};

  // Intake (HTTP).
  std::string http_path;  // "" = any path
  int64_t max_body_bytes = int64_t{8} << 20;  // Orion sends up to 8 MiB
  int max_json_depth = 64;
  int64_t max_entities = 10000;  // per notification
  std::string http_engine = "auto";  // auto | event-loop | httplib
  int http_loops = 0;                // event-loop threads; 0 = cores
  int http_threads = 16;             // httplib workers
  int64_t http_keep_alive_max = 1000000;  // requests per connection
  int http_backlog = 4096;
  int http_worker_nice = 10;  // see HttpServerTuning::worker_nice
  int parse_concurrency = 0;  // notifications parsed at once; 0 = cores

  // Event log retention.
  int64_t log_max_events = 1000000;
  int64_t log_max_bytes = int64_t{512} << 20;

  // Consumers.
  int64_t subscriber_queue = 1024;  // live events queued per gRPC subscriber
  int64_t line_client_buffer_bytes = int64_t{16} << 20;

  // Broker subscriptions the receiver keeps healthy, and gap backfill.
  std::string subscriptions_file;  // "" = the receiver manages none
  // What brokers notify; "{http_port}" stands for the bound HTTP port.
  std::string callback_url;
  int64_t reconcile_interval_seconds = 60;
  bool prune_subscriptions = false;
  bool backfill = true;
  std::string state_dir;  // "" = backfill watermarks kept in memory only

  // TLS, authentication, notification secret and source networks.
  ReceiverSecurityConfig security;

  // Durable event log (disk_log.h); "" keeps the log in memory only.
  std::string data_dir;
  std::string fsync = "group";  // always | group | none
  int64_t fsync_group_ms = 1;
  int64_t log_segment_bytes = int64_t{64} << 20;
  int64_t log_disk_max_bytes = int64_t{8} << 30;  // 0 = unbounded
  int64_t log_max_age_seconds = 0;                // 0 = unbounded
  // Consumer groups: a member silent this long loses its partitions.
  int64_t group_session_timeout_ms = 10000;

  // kInvalidArgument naming the field and value when something is off.
  absl::Status Validate() const;
  // Whether the notification port runs the event-loop engine: asked for,
  // or "auto" without TLS and without a log that waits for fsync.
  bool UsesEventLoop() const;
};

// Parses "PORT:FORMAT" (a --line_listener value).
absl::Status ParseLineListener(const std::string& text,
                               LineListenerConfig& out);

}  // namespace ngsi_bridge::receiver
