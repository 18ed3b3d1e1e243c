// nb_bare_httplib_server: the HTTP library's ceiling. A cpp-httplib server
// with the receiver's run-time tuning (common/http_server_setup.h) that
// answers every POST/PUT with 204 and nothing else (optionally after parsing
// the body as JSON, as an intake must). Prints {"event":"listening",...} on
// stdout; runs until killed.
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "common/http_server_setup.h"
#include "httplib.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(std::string, host, "127.0.0.1", "Address to bind.");
ABSL_FLAG(int32_t, port, 0, "Port; 0 picks a free one.");
ABSL_FLAG(int32_t, threads, 8, "Worker threads (the receiver's default).");
ABSL_FLAG(bool, parse_json, false, "Parse the body before answering.");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  httplib::Server server;
  const bool parse = absl::GetFlag(FLAGS_parse_json);
  auto handler = [parse](const httplib::Request& request,
                         httplib::Response& response) {
    if (parse) {
      const nlohmann::json doc = nlohmann::json::parse(
          request.body, /*cb=*/nullptr, /*allow_exceptions=*/false);
      response.status = doc.is_discarded() ? 400 : 204;
      return;
    }
    response.status = 204;
  };
  server.Post(".*", handler);
  server.Put(".*", handler);
  ngsi_bridge::common::HttpServerTuning tuning;
  tuning.worker_threads = static_cast<size_t>(absl::GetFlag(FLAGS_threads));
  auto port = ngsi_bridge::common::BindHttpServer(
      server, absl::GetFlag(FLAGS_host), absl::GetFlag(FLAGS_port), tuning);
  if (!port.ok()) {
    std::fprintf(stderr, "%s\n", port.status().ToString().c_str());
    return 1;
  }
  std::printf("{\"event\":\"listening\",\"http_port\":%d}\n", *port);
  std::fflush(stdout);
  return server.listen_after_bind() ? 0 : 1;
}
