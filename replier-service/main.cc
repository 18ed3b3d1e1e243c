// ngsi-replier: gRPC batch write-back to NGSIv2 and NGSI-LD brokers.
#include <cstdint>
#include <string>

#include "absl/flags/flag.h"
#include "common/env_flags.h"
#include "common/log.h"
#include "common/security_flags.h"
#include "common/shutdown.h"
#include "replier-service/replier_config.h"
#include "replier-service/replier_server.h"

ABSL_FLAG(std::string, host, "0.0.0.0", "Address every listener binds.");
ABSL_FLAG(int32_t, grpc_port, 50052,
          "Port for Replier clients (gRPC); 0 picks a free port.");
ABSL_FLAG(int32_t, admin_port, 9091,
          "Port for /healthz, /readyz and /metrics; 0 picks a free port.");
ABSL_FLAG(std::string, admin_token_file, "",
          "File holding a bearer token the admin port then wants on every "
          "endpoint but /healthz and /readyz (kubelet probes); empty: none.");
ABSL_FLAG(std::string, broker, "",
          "A broker requests may name: NAME=URL[,flavor=v2|ld][,service=S]"
          "[,service_path=P][,token=T|auth=A][,timeout_ms=N]"
          "[,max_connections=N][,max_entities=N][,max_bytes=N]. Repeatable; "
          "in the environment, separate them with ';'.");
ABSL_FLAG(int32_t, worker_threads, 8,
          "Threads doing broker HTTP (bounds concurrent broker calls).");
ABSL_FLAG(int32_t, max_queued_requests, 1024,
          "Requests waiting for a worker beyond which RPCs get UNAVAILABLE.");
ABSL_FLAG(int32_t, default_deadline_ms, 60000,
          "Deadline for requests whose client set none.");
ABSL_FLAG(std::string, dead_letter_file, "",
          "File where entities that still failed with a transient error "
          "(broker down, deadline) after the retries are appended as JSON "
          "lines, for scripts/replay-dead-letters; empty records none.");
ABSL_FLAG(int32_t, stream_window, 8,
          "WriteStream requests read ahead and worked on concurrently.");
ABSL_FLAG(int32_t, retry_max_attempts, 5,
          "Attempts per broker call (first included) on timeouts, "
          "connection errors, 429 and 5xx.");
ABSL_FLAG(int32_t, retry_initial_backoff_ms, 50,
          "First retry backoff; doubles per attempt, with jitter.");
ABSL_FLAG(int32_t, retry_max_backoff_ms, 2000, "Longest retry backoff.");
ABSL_FLAG(double, retry_budget_tokens, 20,
          "Retry budget per broker: retries in a burst before calls must "
          "succeed again (each success earns 0.2).");

ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain: gRPC serves TLS. Re-read on change.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle: gRPC clients must present a certificate it signed "
          "(mTLS).");
ABSL_FLAG(int32_t, tls_refresh_seconds, 5,
          "Seconds between two checks of the TLS files for rotation.");
ABSL_FLAG(std::string, auth_token_file, "",
          "JSON file of bearer tokens and the brokers and tenants each may "
          "write (see docs/security.md); gRPC calls must then authenticate.");
ABSL_FLAG(std::string, jwt_key_file, "",
          "Key JWT bearer tokens are verified with: the shared secret "
          "(HS256) or a PEM public key (RS256, ES256).");
ABSL_FLAG(std::string, jwt_algorithm, "RS256",
          "The only JWT algorithm accepted: HS256, RS256 or ES256.");
ABSL_FLAG(std::string, jwt_issuer, "", "Required JWT \"iss\"; empty: any.");
ABSL_FLAG(std::string, jwt_audience, "",
          "Required JWT \"aud\" member; empty: any.");

namespace nb = ngsi_bridge;

int main(int argc, char** argv) {
  nb::common::BlockShutdownSignals();
  if (absl::Status flags = nb::common::ParseFlagsWithEnvironment(
          argc, argv,
          "ngsi-replier: writes batches of entities from gRPC clients (Spark "
          "workers) to NGSIv2 / NGSI-LD brokers, with a result per entity.",
          "NGSI_REPLIER_", "replier-service/");
      !flags.ok()) {
    nb::common::LogError("bad configuration", {{"error", flags.ToString()}});
    return 1;
  }

  nb::replier::ReplierConfig config;
  config.host = absl::GetFlag(FLAGS_host);
  config.grpc_port = absl::GetFlag(FLAGS_grpc_port);
  config.admin_port = absl::GetFlag(FLAGS_admin_port);
  config.admin_token_file = absl::GetFlag(FLAGS_admin_token_file);
  config.worker_threads = absl::GetFlag(FLAGS_worker_threads);
  config.max_queued_requests = absl::GetFlag(FLAGS_max_queued_requests);
  config.default_deadline_ms = absl::GetFlag(FLAGS_default_deadline_ms);
  config.stream_window = absl::GetFlag(FLAGS_stream_window);
  config.dead_letter_file = absl::GetFlag(FLAGS_dead_letter_file);
  config.security = nb::common::GrpcSecurityConfigFromFlags(
      {&FLAGS_tls_cert, &FLAGS_tls_key, &FLAGS_tls_client_ca,
       &FLAGS_tls_refresh_seconds, &FLAGS_auth_token_file, &FLAGS_jwt_key_file,
       &FLAGS_jwt_algorithm, &FLAGS_jwt_issuer, &FLAGS_jwt_audience,
       /*max_streams_per_client=*/nullptr});
  config.retry.max_attempts = absl::GetFlag(FLAGS_retry_max_attempts);
  config.retry.initial_backoff_ms =
      absl::GetFlag(FLAGS_retry_initial_backoff_ms);
  config.retry.max_backoff_ms = absl::GetFlag(FLAGS_retry_max_backoff_ms);
  config.retry.budget_tokens = absl::GetFlag(FLAGS_retry_budget_tokens);
  for (const std::string& text :
       nb::common::CollectRepeatedFlag(argc, argv, "broker", "NGSI_REPLIER_")) {
    nb::replier::BrokerConfig broker;
    if (absl::Status status = nb::replier::ParseBroker(text, broker);
        !status.ok()) {
      nb::common::LogError("bad configuration", {{"error", status.ToString()}});
      return 1;
    }
    config.brokers.push_back(broker);
  }

  auto server = nb::replier::ReplierServer::Create(config);
  absl::Status status = server.ok() ? (*server)->Start() : server.status();
  if (!status.ok()) {
    nb::common::LogError("start failed", {{"error", status.ToString()}});
    return 1;
  }
  // SIGHUP re-reads the token file.
  static nb::replier::ReplierServer* reloadable = server->get();
  const int signal_number = nb::common::WaitForShutdownSignal(
      [] { reloadable->ReloadCredentials(); });
  nb::common::LogInfo("shutting down", {{"signal", int64_t{signal_number}}});
  (*server)->Shutdown();
  return 0;
}
