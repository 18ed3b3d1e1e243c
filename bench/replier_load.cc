// nb_replier_load: N concurrent callers of Replier.Write, each on its own
// channel (as N Spark workers), each sending batches of B entities for a
// fixed time. Counts entities the replier reports written and failed, and
// the latency of each call. Prints one JSON object on stdout.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "bench/bench_util.h"
#include "grpcpp/grpcpp.h"
#include "ngsi_bridge/v1/replier.grpc.pb.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(std::string, target, "127.0.0.1:50052", "Replier gRPC address.");
ABSL_FLAG(std::string, broker, "sink", "Broker name configured on it.");
ABSL_FLAG(int32_t, callers, 1, "Concurrent callers.");
ABSL_FLAG(int32_t, batch, 100, "Entities per Write.");
ABSL_FLAG(double, duration_s, 3, "Calling time.");
ABSL_FLAG(int64_t, max_calls, 1000000, "Stop after this many calls in all.");
ABSL_FLAG(int32_t, timeout_ms, 30000, "Deadline of each call.");

namespace nb = ngsi_bridge::bench;
namespace v1 = ngsi_bridge::v1;

namespace {

struct CallerStats {
  uint64_t calls = 0;
  uint64_t failed_calls = 0;
  uint64_t succeeded = 0;
  uint64_t failed = 0;
  uint64_t broker_calls = 0;
  std::string first_error;
  std::vector<int64_t> latencies;
};

// A Room like the fixtures' (temperature with a unit, pressure, a location).
void FillEntity(int caller, uint64_t index, v1::Entity& entity) {
  entity.set_id("urn:ngsi-ld:Room:bench-" + std::to_string(caller) + "-" +
                std::to_string(index % 100000));
  entity.set_type("Room");
  v1::Attribute& temperature = (*entity.mutable_attrs())["temperature"];
  temperature.set_type("Number");
  temperature.mutable_value()->set_number_value(20 + index % 100 / 10.0);
  v1::Attribute& unit = (*temperature.mutable_metadata())["unitCode"];
  unit.set_type("Text");
  unit.mutable_value()->set_string_value("CEL");
  v1::Attribute& pressure = (*entity.mutable_attrs())["pressure"];
  pressure.set_type("Integer");
  pressure.mutable_value()->set_number_value(720 + index % 50);
  v1::Attribute& name = (*entity.mutable_attrs())["name"];
  name.set_type("Text");
  name.mutable_value()->set_string_value("Room " + std::to_string(index));
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int callers = std::max(1, absl::GetFlag(FLAGS_callers));
  const int batch = std::max(1, absl::GetFlag(FLAGS_batch));
  const int64_t max_calls = absl::GetFlag(FLAGS_max_calls);
  const int timeout_ms = absl::GetFlag(FLAGS_timeout_ms);
  std::atomic<int64_t> calls_left{max_calls};
  std::vector<CallerStats> stats(callers);
  const double cpu_before = nb::CpuSeconds();
  const int64_t start = nb::MonoNs();
  const int64_t end =
      start + static_cast<int64_t>(
                  std::min(absl::GetFlag(FLAGS_duration_s), 600.0) * 1e9);
  std::vector<std::thread> threads;
  for (int c = 0; c < callers; ++c) {
    threads.emplace_back([&, c] {
      grpc::ChannelArguments args;
      args.SetInt("nb.bench.caller", c);
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      args.SetMaxReceiveMessageSize(-1);
      auto stub = v1::Replier::NewStub(grpc::CreateCustomChannel(
          absl::GetFlag(FLAGS_target), grpc::InsecureChannelCredentials(),
          args));
      CallerStats& mine = stats[c];
      uint64_t index = 0;
      v1::WriteRequest request;
      request.set_broker(absl::GetFlag(FLAGS_broker));
      request.set_operation(v1::OPERATION_UPSERT);
      request.set_service_path("/bench");
      for (int i = 0; i < batch; ++i) FillEntity(c, index++, *request.add_entities());
      while (nb::MonoNs() < end && calls_left.fetch_sub(1) > 0) {
        for (v1::Entity& entity : *request.mutable_entities()) {
          entity.set_id("urn:ngsi-ld:Room:bench-" + std::to_string(c) + "-" +
                        std::to_string(index++ % 100000));
        }
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::milliseconds(timeout_ms));
        v1::WriteResponse response;
        const int64_t t0 = nb::MonoNs();
        grpc::Status status = stub->Write(&context, request, &response);
        mine.latencies.push_back(nb::MonoNs() - t0);
        ++mine.calls;
        if (!status.ok()) {
          ++mine.failed_calls;
          mine.failed += static_cast<uint64_t>(batch);
          if (mine.first_error.empty()) {
            mine.first_error = std::to_string(status.error_code()) + ": " +
                               status.error_message();
          }
          continue;
        }
        mine.succeeded += response.succeeded();
        mine.failed += response.failed();
        mine.broker_calls += response.broker_calls();
        if (response.failed() > 0 && mine.first_error.empty()) {
          for (const v1::EntityResult& result : response.results()) {
            if (result.code() != 0) {
              mine.first_error = result.message() + " " + result.broker_error();
              break;
            }
          }
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double elapsed = (nb::MonoNs() - start) / 1e9;
  CallerStats total;
  for (CallerStats& s : stats) {
    total.calls += s.calls;
    total.failed_calls += s.failed_calls;
    total.succeeded += s.succeeded;
    total.failed += s.failed;
    total.broker_calls += s.broker_calls;
    if (total.first_error.empty()) total.first_error = s.first_error;
    total.latencies.insert(total.latencies.end(), s.latencies.begin(),
                           s.latencies.end());
  }
  nb::LatencySummary latency = nb::Summarize(total.latencies);
  nlohmann::json out;
  out["calls"] = total.calls;
  out["failed_calls"] = total.failed_calls;
  out["succeeded"] = total.succeeded;
  out["failed"] = total.failed;
  out["broker_calls"] = total.broker_calls;
  out["first_error"] = total.first_error;
  out["elapsed_s"] = elapsed;
  out["entities_per_s"] = elapsed > 0 ? total.succeeded / elapsed : 0.0;
  out["lat_p50_us"] = latency.p50_us;
  out["lat_p99_us"] = latency.p99_us;
  out["lat_max_us"] = latency.max_us;
  out["cpu_s"] = nb::CpuSeconds() - cpu_before;
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
