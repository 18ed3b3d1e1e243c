// ngsi-receiver: broker notifications in, NgsiEvent streams out.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_split.h"
#include "common/env_flags.h"
#include "common/log.h"
#include "common/security_flags.h"
#include "common/shutdown.h"
#include "receiver-service/receiver_config.h"
#include "receiver-service/receiver_server.h"

ABSL_FLAG(std::string, host, "0.0.0.0", "Address every listener binds.");
ABSL_FLAG(int32_t, http_port, 8061,
          "Port for broker notifications (HTTP); 0 picks a free port.");
ABSL_FLAG(int32_t, grpc_port, 50051,
          "Port for EventStream subscribers (gRPC); 0 picks a free port.");
ABSL_FLAG(int32_t, admin_port, 9090,
          "Port for /healthz, /readyz and /metrics; 0 picks a free port.");
ABSL_FLAG(std::string, admin_token_file, "",
          "File holding a bearer token the admin port then wants on every "
          "endpoint but /healthz and /readyz (kubelet probes); empty: none.");
ABSL_FLAG(int32_t, line_port, 9998,
          "Port for socketTextStream line clients; 0 picks a free port, -1 "
          "disables the default listener.");
ABSL_FLAG(std::string, line_format, "event-json",
          "Line format of --line_port: event-json, fpc or body.");
ABSL_FLAG(std::string, line_listener, "",
          "Another line listener as PORT:FORMAT (FORMAT: event-json, fpc, "
          "body). Repeatable; in the environment, separate them with ';'.");

ABSL_FLAG(std::string, http_path, "",
          "Only path notifications are accepted on; empty accepts any path "
          "(subscriptions put their own path and query in the URL).");
ABSL_FLAG(int64_t, max_body_bytes, int64_t{8} << 20,
          "Largest notification body accepted; larger ones get 413.");
ABSL_FLAG(int32_t, max_json_depth, 64,
          "Deepest JSON nesting accepted in a notification; deeper gets 400.");
ABSL_FLAG(int64_t, max_entities, 10000,
          "Most entities accepted in one notification; more gets 400.");
ABSL_FLAG(std::string, http_engine, "auto",
          "How the notification port serves HTTP: event-loop (a few epoll "
          "threads serve every connection; plain HTTP), httplib (a thread "
          "per connection; always used for HTTPS), or auto: event-loop "
          "unless --http_tls is set or the durable log waits for fsync "
          "(--data_dir with --fsync=always|group), whose appends would stall "
          "a loop.");
ABSL_FLAG(int32_t, http_loops, 0,
          "Event-loop threads of --http_engine=event-loop (0: one per CPU "
          "core). Notifications are parsed on them.");
ABSL_FLAG(int32_t, http_threads, 16,
          "Worker threads answering notifications with --http_engine=httplib "
          "(each keep-alive connection holds one while open).");
ABSL_FLAG(int64_t, http_keep_alive_max, 1000000,
          "Requests served on one keep-alive connection before closing it.");
ABSL_FLAG(int32_t, http_backlog, 4096,
          "Listen backlog of the notification port.");
ABSL_FLAG(int32_t, http_worker_nice, 10,
          "Nice value added to the notification workers of "
          "--http_engine=httplib (0..19; 0 keeps the process's; the event "
          "loops always keep it). When the CPU is saturated, consumers' "
          "delivery then wins over intake, so subscribers stay milliseconds "
          "behind instead of falling seconds behind (and past the log's "
          "retention).");
ABSL_FLAG(int32_t, parse_concurrency, 0,
          "Notifications parsed at once (0: one per CPU core). Parsing is "
          "pure CPU: more parsers than cores only take turns and delay the "
          "threads that deliver events to consumers.");
ABSL_FLAG(int64_t, log_max_events, 1000000,
          "Events the in-memory log retains; older ones are evicted.");
ABSL_FLAG(int64_t, log_max_bytes, int64_t{512} << 20,
          "Bytes the in-memory log retains; older events are evicted.");
ABSL_FLAG(int64_t, subscriber_queue, 1024,
          "Live events queued per gRPC subscriber before it reads from the "
          "log instead (bounds memory, never loses events).");
ABSL_FLAG(int64_t, line_client_buffer_bytes, int64_t{16} << 20,
          "Bytes queued for one line client; a client that stops reading is "
          "disconnected when it passes this.");
ABSL_FLAG(std::string, subscriptions_file, "",
          "YAML or JSON file of the broker subscriptions the receiver keeps "
          "healthy (created, fixed, re-activated); empty manages none.");
ABSL_FLAG(std::string, callback_url, "",
          "URL brokers notify (the receiver's externally reachable address); "
          "\"{http_port}\" stands for the bound HTTP port.");
ABSL_FLAG(int64_t, reconcile_interval_seconds, 60,
          "Seconds between two reconciliations of --subscriptions_file.");
ABSL_FLAG(bool, prune_subscriptions, false,
          "Delete the broker subscriptions this receiver created that are no "
          "longer in --subscriptions_file.");
ABSL_FLAG(bool, backfill, true,
          "After downtime or a failing subscription, query the broker for "
          "the entities changed meanwhile and append them as backfill "
          "events.");
ABSL_FLAG(std::string, state_dir, "",
          "Directory for the receiver's small state (the backfill watermark "
          "per subscription); empty keeps it in memory, so no backfill "
          "after a restart.");

ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain: gRPC (and with --http_tls the notification "
          "port) serve TLS. Re-read on change and on SIGHUP.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle: gRPC clients must present a certificate it signed "
          "(mTLS).");
ABSL_FLAG(int32_t, tls_refresh_seconds, 5,
          "Seconds between two checks of the gRPC TLS files for rotation.");
ABSL_FLAG(int32_t, http_max_connections, 256,
          "Notification connections served at once: workers grow from "
          "--http_threads up to this while all are busy (slow clients cannot "
          "starve the others); beyond it connections wait in the backlog.");
ABSL_FLAG(int32_t, http_max_connections_per_source, 0,
          "Open notification connections allowed from one source address; "
          "more are refused at once (plain HTTP: 503 + close; HTTPS: close) "
          "and counted. 0: no cap.");
ABSL_FLAG(int32_t, http_max_connections_total, 0,
          "Open notification connections allowed in all; more are refused "
          "like --http_max_connections_per_source instead of waiting in the "
          "backlog. Acts only at or under --http_max_connections. 0: no cap.");
ABSL_FLAG(bool, http_tls, false,
          "Serve the notification port over HTTPS with --tls_cert/--tls_key.");
ABSL_FLAG(std::string, auth_token_file, "",
          "JSON file of bearer tokens and what each may read (see "
          "docs/security.md); gRPC calls must then authenticate.");
ABSL_FLAG(std::string, jwt_key_file, "",
          "Key JWT bearer tokens are verified with: the shared secret "
          "(HS256) or a PEM public key (RS256, ES256).");
ABSL_FLAG(std::string, jwt_algorithm, "RS256",
          "The only JWT algorithm accepted: HS256, RS256 or ES256.");
ABSL_FLAG(std::string, jwt_issuer, "", "Required JWT \"iss\"; empty: any.");
ABSL_FLAG(std::string, jwt_audience, "",
          "Required JWT \"aud\" member; empty: any.");
ABSL_FLAG(int32_t, max_streams_per_client, 0,
          "Concurrent Subscribe streams per principal (or peer host when "
          "anonymous); more get RESOURCE_EXHAUSTED. 0: unlimited.");
ABSL_FLAG(std::string, notify_secret_header, "",
          "Header every notification must carry with the secret of "
          "--notify_secret_file (set it in the subscription's "
          "httpCustom.headers); others get 401.");
ABSL_FLAG(std::string, notify_secret_file, "",
          "File holding the notification secret (trailing newline ignored).");
ABSL_FLAG(std::string, notify_allow_cidrs, "",
          "Comma-separated networks notifications may come from (e.g. "
          "10.0.0.0/8,::1); others get 403. Empty: any.");
ABSL_FLAG(std::string, line_allow_cidrs, "",
          "Comma-separated networks line clients (socketTextStream, which "
          "cannot send tokens) may connect from; others are closed at once. "
          "Empty: any.");

ABSL_FLAG(std::string, data_dir, "",
          "Folder of the durable event log: notifications are answered 2xx "
          "only once on disk, and a restart loses nothing acknowledged. "
          "Empty keeps the log in memory only.");
ABSL_FLAG(std::string, fsync, "group",
          "When an appended event counts as durable with --data_dir: always "
          "(fsync each), group (one fsync per --fsync_group_ms for all) or "
          "none (written to the OS; survives a process crash only).");
ABSL_FLAG(int64_t, fsync_group_ms, 1,
          "With --fsync=group, at most one fsync per this many "
          "milliseconds; every append waiting shares it.");
ABSL_FLAG(int64_t, log_segment_bytes, int64_t{64} << 20,
          "Size at which the on-disk log starts a new segment file.");
ABSL_FLAG(int64_t, log_disk_max_bytes, int64_t{8} << 30,
          "Bytes the on-disk log retains; whole oldest segments are deleted "
          "beyond it. 0 = unbounded.");
ABSL_FLAG(int64_t, log_max_age_seconds, 0,
          "Age after which whole on-disk segments are deleted; 0 = never.");
ABSL_FLAG(int64_t, group_session_timeout_ms, 10000,
          "A consumer-group member disconnected this long loses its "
          "partitions to the others (who resume from its committed offset).");

namespace nb = ngsi_bridge;

int main(int argc, char** argv) {
  nb::common::BlockShutdownSignals();
  if (absl::Status flags = nb::common::ParseFlagsWithEnvironment(
          argc, argv,
          "ngsi-receiver: turns NGSIv2 / NGSI-LD broker notifications into "
          "NgsiEvent streams (gRPC EventStream and socket lines).",
          "NGSI_RECEIVER_", "receiver-service/");
      !flags.ok()) {
    nb::common::LogError("bad configuration", {{"error", flags.ToString()}});
    return 1;
  }

  nb::receiver::ReceiverConfig config;
  config.host = absl::GetFlag(FLAGS_host);
  config.http_port = absl::GetFlag(FLAGS_http_port);
  config.grpc_port = absl::GetFlag(FLAGS_grpc_port);
  config.admin_port = absl::GetFlag(FLAGS_admin_port);
  config.admin_token_file = absl::GetFlag(FLAGS_admin_token_file);
  config.http_path = absl::GetFlag(FLAGS_http_path);
  config.max_body_bytes = absl::GetFlag(FLAGS_max_body_bytes);
  config.max_json_depth = absl::GetFlag(FLAGS_max_json_depth);
  config.max_entities = absl::GetFlag(FLAGS_max_entities);
  config.http_engine = absl::GetFlag(FLAGS_http_engine);
  config.http_loops = absl::GetFlag(FLAGS_http_loops);
  config.http_threads = absl::GetFlag(FLAGS_http_threads);
  config.http_keep_alive_max = absl::GetFlag(FLAGS_http_keep_alive_max);
  config.http_backlog = absl::GetFlag(FLAGS_http_backlog);
  config.http_worker_nice = absl::GetFlag(FLAGS_http_worker_nice);
  config.parse_concurrency = absl::GetFlag(FLAGS_parse_concurrency);
  config.log_max_events = absl::GetFlag(FLAGS_log_max_events);
  config.log_max_bytes = absl::GetFlag(FLAGS_log_max_bytes);
  config.subscriber_queue = absl::GetFlag(FLAGS_subscriber_queue);
  config.line_client_buffer_bytes =
      absl::GetFlag(FLAGS_line_client_buffer_bytes);
  config.subscriptions_file = absl::GetFlag(FLAGS_subscriptions_file);
  config.callback_url = absl::GetFlag(FLAGS_callback_url);
  config.reconcile_interval_seconds =
      absl::GetFlag(FLAGS_reconcile_interval_seconds);
  config.prune_subscriptions = absl::GetFlag(FLAGS_prune_subscriptions);
  config.backfill = absl::GetFlag(FLAGS_backfill);
  config.state_dir = absl::GetFlag(FLAGS_state_dir);
  config.data_dir = absl::GetFlag(FLAGS_data_dir);
  config.fsync = absl::GetFlag(FLAGS_fsync);
  config.fsync_group_ms = absl::GetFlag(FLAGS_fsync_group_ms);
  config.log_segment_bytes = absl::GetFlag(FLAGS_log_segment_bytes);
  config.log_disk_max_bytes = absl::GetFlag(FLAGS_log_disk_max_bytes);
  config.log_max_age_seconds = absl::GetFlag(FLAGS_log_max_age_seconds);
  config.group_session_timeout_ms =
      absl::GetFlag(FLAGS_group_session_timeout_ms);
  config.security.grpc = nb::common::GrpcSecurityConfigFromFlags(
      {&FLAGS_tls_cert, &FLAGS_tls_key, &FLAGS_tls_client_ca,
       &FLAGS_tls_refresh_seconds, &FLAGS_auth_token_file, &FLAGS_jwt_key_file,
       &FLAGS_jwt_algorithm, &FLAGS_jwt_issuer, &FLAGS_jwt_audience,
       &FLAGS_max_streams_per_client});
  config.security.http_tls = absl::GetFlag(FLAGS_http_tls);
  config.security.http_max_connections =
      absl::GetFlag(FLAGS_http_max_connections);
  config.security.http_max_connections_per_source =
      absl::GetFlag(FLAGS_http_max_connections_per_source);
  config.security.http_max_connections_total =
      absl::GetFlag(FLAGS_http_max_connections_total);
  config.security.notify_secret_header =
      absl::GetFlag(FLAGS_notify_secret_header);
  config.security.notify_secret_file = absl::GetFlag(FLAGS_notify_secret_file);
  config.security.notify_allow_cidrs = absl::StrSplit(
      absl::GetFlag(FLAGS_notify_allow_cidrs), ',', absl::SkipWhitespace());
  config.security.line_allow_cidrs = absl::StrSplit(
      absl::GetFlag(FLAGS_line_allow_cidrs), ',', absl::SkipWhitespace());
  config.line_listeners.clear();
  if (absl::GetFlag(FLAGS_line_port) >= 0) {
    config.line_listeners.push_back(
        {absl::GetFlag(FLAGS_line_port), absl::GetFlag(FLAGS_line_format)});
  }
  for (const std::string& text : nb::common::CollectRepeatedFlag(
           argc, argv, "line_listener", "NGSI_RECEIVER_")) {
    nb::receiver::LineListenerConfig listener;
    if (absl::Status status = nb::receiver::ParseLineListener(text, listener);
        !status.ok()) {
      nb::common::LogError("bad configuration", {{"error", status.ToString()}});
      return 1;
    }
    config.line_listeners.push_back(listener);
  }

  auto server = nb::receiver::ReceiverServer::Create(config);
  absl::Status status = server.ok() ? (*server)->Start() : server.status();
  if (!status.ok()) {
    nb::common::LogError("start failed", {{"error", status.ToString()}});
    return 1;
  }
  // SIGHUP re-reads certificates, tokens and the notification secret.
  static nb::receiver::ReceiverServer* reloadable = server->get();
  const int signal_number = nb::common::WaitForShutdownSignal(
      [] { reloadable->ReloadCredentials(); });
  nb::common::LogInfo("shutting down", {{"signal", int64_t{signal_number}}});
  (*server)->Shutdown();
  return 0;
}
