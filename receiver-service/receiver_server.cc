#include "receiver-service/receiver_server.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/log.h"
#include "nlohmann/json.hpp"
#include "receiver-service/durable_setup.h"
#include "receiver-service/subscriptions_file.h"

namespace ngsi_bridge::receiver {

absl::StatusOr<std::unique_ptr<ReceiverServer>> ReceiverServer::Create(
    const ReceiverConfig& config) {
  if (absl::Status status = config.Validate(); !status.ok()) return status;
  return std::unique_ptr<ReceiverServer>(new ReceiverServer(config));
}

ReceiverServer::ReceiverServer(const ReceiverConfig& config)
    : config_(config) {
  EventLog::Options log_options;
  log_options.max_events = static_cast<size_t>(config.log_max_events);
  log_options.max_bytes = static_cast<size_t>(config.log_max_bytes);
  log_ = std::make_unique<EventLog>(log_options);
  hub_ = std::make_unique<EventHub>();

  NotificationHandler::Options handler_options;
  handler_options.limits.max_depth = config.max_json_depth;
  handler_options.parse_concurrency =
      config.parse_concurrency > 0
          ? config.parse_concurrency
          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  handler_options.limits.max_entities =
      static_cast<size_t>(config.max_entities);
  for (const LineListenerConfig& listener : config.line_listeners) {
    handler_options.keep_request =
        handler_options.keep_request || LineFormatNeedsRequest(listener.format);
  }
  handler_ = std::make_unique<NotificationHandler>(handler_options, log_.get(),
                                                   hub_.get(), &metrics_);

  SubscribeOptions subscribe_options;
  subscribe_options.queue_capacity =
      static_cast<size_t>(config.subscriber_queue);
  stream_service_ = std::make_unique<EventStreamService>(
      log_.get(), hub_.get(), subscribe_options);

  LineServer::Options line_options;
  line_options.host = config.host;
  line_options.listeners = config.line_listeners;
  line_options.client_buffer_bytes =
      static_cast<size_t>(config.line_client_buffer_bytes);
  line_ = std::make_unique<LineServer>(line_options, hub_.get(), &metrics_);

  IntakeServer::Options intake_options;
  intake_options.engine = config.UsesEventLoop()
                              ? IntakeServer::Engine::kEventLoop
                              : IntakeServer::Engine::kHttplib;
  intake_options.loops = config.http_loops;
  intake_options.host = config.host;
  intake_options.port = config.http_port;
  intake_options.path = config.http_path;
  intake_options.max_body_bytes = static_cast<size_t>(config.max_body_bytes);
  intake_options.tuning.worker_threads =
      static_cast<size_t>(config.http_threads);
  intake_options.tuning.keep_alive_max_count =
      static_cast<size_t>(config.http_keep_alive_max);
  intake_options.tuning.listen_backlog = config.http_backlog;
  intake_options.tuning.worker_nice = config.http_worker_nice;
  intake_options.tuning.max_worker_threads =
      static_cast<size_t>(config.security.http_max_connections);
  intake_options.connection_limits.max_per_source =
      config.security.http_max_connections_per_source;
  intake_options.connection_limits.max_total =
      config.security.http_max_connections_total;
  intake_ = std::make_unique<IntakeServer>(intake_options, handler_.get(),
                                           &metrics_);
  RegisterMetricCallbacks();
}

ReceiverServer::~ReceiverServer() { Shutdown(); }

int ReceiverServer::admin_port() const { return admin_ ? admin_->port() : 0; }

std::vector<int> ReceiverServer::line_ports() const { return line_->ports(); }

void ReceiverServer::RegisterMetricCallbacks() {
  metrics_.AddGaugeCallback(
      "ngsi_receiver_log_retained_events", "Events retained in the log.",
      [this] {
        return common::MetricsRegistry::GaugeSamples{
            {{}, static_cast<double>(log_->stats().retained_events)}};
      });
  metrics_.AddGaugeCallback(
      "ngsi_receiver_log_retained_bytes", "Bytes retained in the log.", [this] {
        return common::MetricsRegistry::GaugeSamples{
            {{}, static_cast<double>(log_->stats().retained_bytes)}};
      });
  metrics_.AddGaugeCallback(
      "ngsi_receiver_log_sequence",
      "Earliest retained and latest appended sequence.", [this] {
        const LogStats stats = log_->stats();
        return common::MetricsRegistry::GaugeSamples{
            {{{"end", "earliest"}}, static_cast<double>(stats.earliest_sequence)},
            {{{"end", "latest"}}, static_cast<double>(stats.latest_sequence)}};
      });
  metrics_.AddGaugeCallback(
      "ngsi_receiver_log_evicted_events",
      "Events evicted by retention since start (a counter).", [this] {
        return common::MetricsRegistry::GaugeSamples{
            {{}, static_cast<double>(log_->stats().evicted_events)}};
      });
  metrics_.AddGaugeCallback(
      "ngsi_receiver_consumers", "Connected consumers by kind.", [this] {
        const size_t sinks = hub_->sink_count();
        const size_t listeners = config_.line_listeners.size();
        return common::MetricsRegistry::GaugeSamples{
            {{{"kind", "grpc"}},
             static_cast<double>(sinks > listeners ? sinks - listeners : 0)},
            {{{"kind", "line"}}, static_cast<double>(line_->client_count())}};
      });
  metrics_.AddGaugeCallback(
      "ngsi_receiver_consumer_lag_events",
      "Events appended but not yet sent, per gRPC subscriber.", [this] {
        common::MetricsRegistry::GaugeSamples samples;
        const uint64_t latest = log_->latest_sequence();
        for (const auto& sink : hub_->sinks()) {
          if (sink->consumer_name().rfind("grpc-", 0) != 0) continue;
          samples.push_back({{{"consumer", sink->consumer_name()}},
                             static_cast<double>(sink->lag(latest))});
        }
        return samples;
      });
  metrics_.AddGaugeCallback(
      "ngsi_receiver_consumer_queue_drops",
      "Live events a gRPC subscriber's queue dropped (re-read from the log).",
      [this] {
        common::MetricsRegistry::GaugeSamples samples;
        for (const auto& sink : hub_->sinks()) {
          if (sink->consumer_name().rfind("grpc-", 0) != 0) continue;
          samples.push_back({{{"consumer", sink->consumer_name()}},
                             static_cast<double>(sink->dropped_count())});
        }
        return samples;
      });
  metrics_.AddGaugeCallback(
      "ngsi_receiver_line_client_queued_bytes",
      "Bytes queued for each line client (its lag).", [this] {
        common::MetricsRegistry::GaugeSamples samples;
        for (const LineClientStats& client : line_->client_stats()) {
          samples.push_back({{{"consumer", client.name}},
                             static_cast<double>(client.queued_bytes)});
        }
        return samples;
      });
}

absl::Status ReceiverServer::Start() {
  // First: sequences continue from the disk, and a folder that cannot be
  // recovered or written fails the start rather than the first 2xx.
  if (absl::Status status = OpenDiskLog(config_, log_.get(), &metrics_);
      !status.ok()) {
    return status;
  }
  auto groups = CreateConsumerGroups(config_, log_.get(), hub_.get());
  if (!groups.ok()) return groups.status();
  groups_ = *std::move(groups);
  stream_service_->set_consumer_groups(groups_.get());
  auto security = ReceiverSecurity::Create(config_.security);
  if (!security.ok()) return security.status();
  security_ = *std::move(security);
  stream_service_->SetAccessControl(security_->grpc().authenticator(),
                                    security_->grpc().limiter());
  intake_->SetSecurity(security_->https_certificate(), security_->guard());
  line_->SetAllowedSources(security_->line_sources());
  if (security_->grpc().authenticator() != nullptr &&
      !config_.line_listeners.empty() && security_->line_sources().empty()) {
    common::LogWarning(
        "line listeners are not authenticated and carry every tenant's "
        "events: restrict them (--line_allow_cidrs), disable them "
        "(--line_port=-1) or keep them off untrusted networks");
  }

  auto admin = common::AdminServer::Create(
      config_.host, config_.admin_port, &metrics_,
      [this] { return ready_.load(std::memory_order_acquire); });
  if (!admin.ok()) return admin.status();
  admin_ = std::move(*admin);
  if (!config_.admin_token_file.empty()) {
    if (absl::Status status = admin_->RequireToken(config_.admin_token_file);
        !status.ok()) {
      return status;
    }
  }
  admin_->AddEndpoint("/subscriptions", [this] {
    return common::AdminResponse{200, "application/json",
                                 subscription_board_.RenderJson()};
  });
  if (absl::Status status = admin_->Start(); !status.ok()) return status;

  if (absl::Status status = line_->Start(); !status.ok()) return status;

  common::GrpcServerOptions grpc_options;
  grpc_options.host = config_.host;
  grpc_options.port = config_.grpc_port;
  grpc_options.credentials = security_->grpc().credentials();
  auto grpc = common::StartGrpcServer(grpc_options, {stream_service_.get()});
  if (!grpc.ok()) return grpc.status();
  grpc_ = std::move(grpc->server);
  grpc_port_ = grpc->port;

  if (absl::Status status = intake_->Start(); !status.ok()) return status;
  // After intake: the callback URL may name the port just bound, and a
  // broker notifies as soon as a subscription exists.
  if (absl::Status status = StartSubscriptions(); !status.ok()) return status;
  started_ = true;
  ready_.store(true, std::memory_order_release);
  PrintListeningLine();
  return absl::OkStatus();
}

absl::Status ReceiverServer::StartSubscriptions() {
  if (config_.subscriptions_file.empty()) return absl::OkStatus();
  absl::StatusOr<std::vector<SubscriptionSpec>> specs =
      LoadSubscriptionsFile(config_.subscriptions_file);
  if (!specs.ok()) return specs.status();
  SubscriptionReconciler::Options options;
  options.specs = *std::move(specs);
  options.callback_url = absl::StrReplaceAll(
      config_.callback_url, {{"{http_port}", absl::StrCat(intake_->port())}});
  options.interval = absl::Seconds(config_.reconcile_interval_seconds);
  options.prune = config_.prune_subscriptions;
  options.backfill = config_.backfill;
  if (!config_.state_dir.empty()) {
    options.state_file = config_.state_dir + "/subscriptions-state.json";
  } else if (config_.backfill) {
    common::LogWarning(
        "no --state_dir: backfill watermarks are not kept across restarts, "
        "so changes made while the receiver is down are not backfilled");
  }
  for (const LineListenerConfig& listener : config_.line_listeners) {
    options.backfill_options.keep_request =
        options.backfill_options.keep_request ||
        LineFormatNeedsRequest(listener.format);
  }
  broker_transport_ =
      std::make_unique<HttpBrokerTransport>(absl::Seconds(10));
  auto reconciler = SubscriptionReconciler::Create(
      options, broker_transport_.get(), log_.get(), hub_.get(),
      &subscription_board_, &metrics_);
  if (!reconciler.ok()) return reconciler.status();
  reconciler_ = *std::move(reconciler);
  subscription_board_.RegisterMetrics(&metrics_);
  common::LogInfo("subscriptions loaded",
                  {{"file", config_.subscriptions_file},
                   {"count", static_cast<int64_t>(options.specs.size())},
                   {"callback_url", options.callback_url}});
  return reconciler_->Start();
}

void ReceiverServer::PrintListeningLine() const {
  // Written here rather than with common::PrintEventLine: the line carries
  // arrays (one port and format per line listener).
  nlohmann::ordered_json line = {{"event", "listening"},
                                 {"service", "ngsi-receiver"},
                                 {"http_port", intake_->port()},
                                 {"grpc_port", grpc_port_}};
  const std::vector<int> ports = line_->ports();
  line["line_port"] = ports.empty() ? -1 : ports.front();
  line["line_ports"] = ports;
  nlohmann::ordered_json listeners = nlohmann::ordered_json::array();
  for (size_t i = 0; i < ports.size(); ++i) {
    listeners.push_back({{"port", ports[i]},
                         {"format", config_.line_listeners[i].format}});
  }
  line["line_listeners"] = listeners;
  line["admin_port"] = admin_->port();
  const std::string text = line.dump() + "\n";
  // One write(), like every log line, so it never interleaves.
  [[maybe_unused]] ssize_t ignored =
      write(STDOUT_FILENO, text.data(), text.size());
  common::LogInfo("listening", {{"http_port", int64_t{intake_->port()}},
                                {"grpc_port", int64_t{grpc_port_}},
                                {"admin_port", int64_t{admin_->port()}}});
}

void ReceiverServer::ReloadCredentials() {
  if (security_) security_->Reload();
  if (admin_) admin_->ReloadToken();
}

void ReceiverServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  ready_.store(false, std::memory_order_release);
  // The reconciler appends backfill events: stopped before the log closes.
  if (reconciler_) reconciler_->Shutdown();
  // Stop intake first: requests in flight finish (their events are in the
  // log and reach consumers), new ones are refused.
  if (intake_) intake_->Shutdown();
  log_->Close();
  // Every stream finishes with UNAVAILABLE naming how to resume.
  hub_->Close();
  if (grpc_) {
    grpc_->Shutdown(std::chrono::system_clock::now() +
                    std::chrono::seconds(5));
  }
  line_->Shutdown();
  if (admin_) admin_->Shutdown();
  if (started_) common::LogInfo("stopped");
}

}  // namespace ngsi_bridge::receiver
