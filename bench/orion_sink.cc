// nb_orion_sink: a fast stand-in for Orion's batch endpoint, for the replier
// benchmarks. POST /v2/op/update (and NGSI-LD entityOperations) answers 204
// and counts the entities of the batch with a SAX pass (no DOM); any other
// POST/PUT/PATCH counts one entity. GET /stats returns the counters as JSON.
// Prints {"event":"listening",...} on stdout; runs until killed.
#include <atomic>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "common/http_server_setup.h"
#include "httplib.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(std::string, host, "127.0.0.1", "Address to bind.");
ABSL_FLAG(int32_t, port, 0, "Port; 0 picks a free one.");
ABSL_FLAG(int32_t, threads, 64, "Worker threads (one per open connection).");

namespace {

// Counts the elements of the top-level "entities" array (NGSIv2 op/update)
// or of a top-level array (NGSI-LD entityOperations).
class EntityCounter : public nlohmann::json_sax<nlohmann::json> {
 public:
  size_t count() const { return count_; }

  bool null() override { return Value(); }
  bool boolean(bool) override { return Value(); }
  bool number_integer(number_integer_t) override { return Value(); }
  bool number_unsigned(number_unsigned_t) override { return Value(); }
  bool number_float(number_float_t, const string_t&) override {
    return Value();
  }
  bool string(string_t&) override { return Value(); }
  bool binary(binary_t&) override { return Value(); }
  bool start_object(std::size_t) override {
    if (depth_ == list_depth_) ++count_;
    ++depth_;
    return true;
  }
  bool key(string_t& key) override {
    if (depth_ == 1) next_is_list_ = key == "entities";
    return true;
  }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    if ((depth_ == 1 && next_is_list_) || depth_ == 0) list_depth_ = depth_ + 1;
    ++depth_;
    return true;
  }
  bool end_array() override {
    --depth_;
    if (depth_ + 1 == list_depth_) list_depth_ = -1;
    return true;
  }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception&) override {
    failed_ = true;
    return false;
  }
  bool failed() const { return failed_; }

 private:
  bool Value() { return true; }
  int depth_ = 0;
  int list_depth_ = -1;
  bool next_is_list_ = false;
  bool failed_ = false;
  size_t count_ = 0;
};

std::atomic<uint64_t> g_requests{0};
std::atomic<uint64_t> g_entities{0};
std::atomic<uint64_t> g_bad{0};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  httplib::Server server;
  auto batch = [](const httplib::Request& request, httplib::Response& response) {
    EntityCounter counter;
    const bool ok = nlohmann::json::sax_parse(
        request.body, &counter, nlohmann::json::input_format_t::json,
        /*strict=*/true, /*ignore_comments=*/false);
    ++g_requests;
    if (!ok || counter.failed()) {
      ++g_bad;
      response.status = 400;
      response.set_content(
          R"({"error":"ParseError","description":"Errors found in incoming JSON buffer"})",
          "application/json");
      return;
    }
    g_entities += counter.count();
    response.status = 204;
  };
  auto single = [](const httplib::Request&, httplib::Response& response) {
    ++g_requests;
    ++g_entities;
    response.status = 204;
  };
  server.Post("/v2/op/update", batch);
  server.Post("/ngsi-ld/v1/entityOperations/.*", batch);
  server.Post(".*", single);
  server.Put(".*", single);
  server.Patch(".*", single);
  server.Get("/stats", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("{\"requests\":" + std::to_string(g_requests.load()) +
                             ",\"entities\":" + std::to_string(g_entities.load()) +
                             ",\"bad\":" + std::to_string(g_bad.load()) + "}",
                         "application/json");
  });
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
