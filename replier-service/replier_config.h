#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/grpc_security.h"
#include "ngsi_bridge/v1/ngsi.pb.h"

namespace ngsi_bridge::replier {

// One broker the replier may write to. Requests name it; they never carry a
// URL, so the replier only ever calls what is configured here.
struct BrokerConfig {
  std::string name;
  std::string url;  // base URL, http:// or https://, no trailing slash
  v1::Flavor flavor = v1::NGSI_V2;
  // Default tenant headers, used when a request names none.
  std::string service;       // Fiware-Service (v2) / NGSILD-Tenant (ld)
  std::string service_path;  // Fiware-ServicePath (v2 only)
  // Credentials: a static X-Auth-Token, or a whole Authorization value.
  // Secrets: never logged, never listed.
  std::string token;
  std::string authorization;
  // Or OAuth2 client credentials (Keyrock): POST token_url with the client
  // id and secret, cache the access token until it expires, send it as
  // X-Auth-Token, fetch a new one once on a 401.
  std::string oauth2_token_url;
  std::string oauth2_client_id;
  std::string oauth2_client_secret;       // secret
  std::string oauth2_client_secret_file;  // or read from this file
  // https:// brokers: the server certificate is verified against ca_file
  // (PEM bundle; "" = the system's CAs) unless insecure (labs only).
  std::string ca_file;
  bool insecure = false;
  int timeout_ms = 10000;    // per HTTP attempt
  int max_connections = 8;   // keep-alive pool size, bounds concurrency
  // Per request sent; 0 takes the flavor's default (kDefaultMaxEntities*).
  int max_entities = 0;
  // Orion answers 413 above 1 MB (-inReqPayloadMaxSize); bodies stay below.
  int64_t max_bytes = 1 << 20;

  // max_entities with the flavor default applied.
  int EffectiveMaxEntities() const;
};

// Orion has no entity cap on op/update, but huge batches make one failure
// costly to pin down; NGSI-LD brokers (Scorpio, Stellio) cap batches.
inline constexpr int kDefaultMaxEntitiesV2 = 1000;
inline constexpr int kDefaultMaxEntitiesLd = 100;

// Retries of one broker call (per BrokerConfig, shared by every broker).
struct RetryConfig {
  int max_attempts = 5;  // first try included
  int initial_backoff_ms = 50;
  int max_backoff_ms = 2000;
  // Token bucket shared by all calls to one broker: a retry costs one
  // token, a call that needs none earns `budget_refill`; no token, no retry.
  // Keeps a broker that is down from being hammered by every request.
  double budget_tokens = 20;
  double budget_refill = 0.2;
};

// Everything ngsi-replier is configured with; filled from flags (and their
// NGSI_REPLIER_* twins) by main.cc. Plain value type.
struct ReplierConfig {
  std::string host = "0.0.0.0";
  int grpc_port = 50052;
  int admin_port = 9091;
  // Bearer token the admin port wants but on /healthz, /readyz; "" = none.
  std::string admin_token_file;
  std::vector<BrokerConfig> brokers;
  RetryConfig retry;
  // TLS, authentication and stream limits of the gRPC port.
  common::GrpcSecurityConfig security;
  int worker_threads = 8;       // BatchWriter threads doing broker HTTP
  int max_queued_requests = 1024;  // beyond: kUnavailable (back-pressure)
  // Applied when a client sets no gRPC deadline.
  int default_deadline_ms = 60000;
  // WriteStream: requests read ahead and worked on concurrently per stream.
  int stream_window = 8;
  // JSON lines of the entities that still failed with a transient error
  // after the retries (dead_letter_file.h); "" records none.
  std::string dead_letter_file;

  // kInvalidArgument naming the field and value when something is off.
  absl::Status Validate() const;
};

// Parses a --broker value:
// NAME=URL[,flavor=v2|ld][,service=S][,service_path=P][,token=T|auth=A]
// [,timeout_ms=N][,max_connections=N][,max_entities=N][,max_bytes=N]
// [,ca_file=PEM][,insecure=true][,token_url=URL,client_id=ID,
// client_secret=S|client_secret_file=F].
// Error messages never contain token/auth/client_secret values.
absl::Status ParseBroker(const std::string& text, BrokerConfig& out);

// `text` with the values of token=, auth=, client_secret= and a URL's
// user:password@
// replaced by "***", for logs and error messages.
std::string RedactBrokerFlag(const std::string& text);

}  // namespace ngsi_bridge::replier
