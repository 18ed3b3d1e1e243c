// nb_line_reader: a socket line client for the receiver benchmarks (our line
// listener or the old connector's socket server). Reads lines, finds the
// send tags, counts unique deliveries per run, and measures the latency from
// the tag's send time to the line's arrival. With --validate every line must
// be one JSON document (the old connector interleaves concurrent forwards);
// tags in a broken line do not count as delivered. With --stall it connects
// and never reads (a stalled consumer). Prints "ready" on stderr once
// connected and one JSON object on stdout at the end (consumer_control.h).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "bench/bench_util.h"
#include "bench/consumer_control.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(std::string, host, "127.0.0.1", "Line server address.");
ABSL_FLAG(int32_t, port, 0, "Line server port.");
ABSL_FLAG(int32_t, run_id, 1, "Count only tags of this run.");
ABSL_FLAG(bool, validate, false, "Require every line to be valid JSON.");
ABSL_FLAG(bool, stall, false, "Connect and never read.");
ABSL_FLAG(int32_t, idle_ms, 3000, "Stop this long after the last event.");
ABSL_FLAG(double, max_s, 120, "Hard stop.");
ABSL_FLAG(double, connect_timeout_s, 15, "Retry connecting this long.");

namespace nb = ngsi_bridge::bench;

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(absl::GetFlag(FLAGS_port)));
  inet_pton(AF_INET, absl::GetFlag(FLAGS_host).c_str(), &addr.sin_addr);
  int fd = -1;
  const int64_t connect_end =
      nb::MonoNs() +
      static_cast<int64_t>(absl::GetFlag(FLAGS_connect_timeout_s) * 1e9);
  while (nb::MonoNs() < connect_end) {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      break;
    }
    close(fd);
    fd = -1;
    usleep(50000);
  }
  if (fd < 0) {
    std::fprintf(stderr, "nb_line_reader: cannot connect\n");
    return 1;
  }
  std::fprintf(stderr, "ready\n");
  std::fflush(stderr);

  const bool validate = absl::GetFlag(FLAGS_validate);
  const bool stall = absl::GetFlag(FLAGS_stall);
  std::mutex mu;
  nb::DeliveryCounter counter(static_cast<uint32_t>(absl::GetFlag(FLAGS_run_id)));
  uint64_t lines = 0, untagged = 0, multi_tag = 0, invalid = 0, bytes = 0;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> delivered{0};
  std::atomic<int64_t> last_event{0};
  bool closed_by_server = false;
  const double cpu_before = nb::CpuSeconds();

  std::thread reader([&] {
    if (stall) return;
    std::string pending;
    std::string buffer(1 << 20, '\0');
    while (!stop.load()) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      const ssize_t n = recv(fd, buffer.data(), buffer.size(), 0);
      if (n <= 0) {
        closed_by_server = true;
        break;
      }
      const int64_t now = nb::MonoNs();
      std::lock_guard<std::mutex> lock(mu);
      bytes += static_cast<uint64_t>(n);
      pending.append(buffer.data(), static_cast<size_t>(n));
      size_t start = 0;
      size_t newline;
      while ((newline = pending.find('\n', start)) != std::string::npos) {
        absl::string_view line(pending.data() + start, newline - start);
        start = newline + 1;
        ++lines;
        if (validate && !nlohmann::json::accept(line)) {
          ++invalid;
          continue;
        }
        const int found = nb::RecordTagsIn(line, now, counter);
        if (found == 0) ++untagged;
        if (found > 1) ++multi_tag;
      }
      pending.erase(0, start);
      delivered.store(counter.unique());
      last_event.store(counter.last_received_ns());
    }
  });

  const int64_t expected = nb::WaitForStop(
      [&] { return delivered.load(); }, [&] { return last_event.load(); },
      absl::GetFlag(FLAGS_idle_ms), absl::GetFlag(FLAGS_max_s));
  stop.store(true);
  reader.join();
  close(fd);

  std::lock_guard<std::mutex> lock(mu);
  const int64_t first = counter.first_sent_ns();
  const int64_t last = counter.last_received_ns();
  nb::LatencySummary latency = nb::Summarize(counter.latencies());
  nlohmann::json out;
  out["streams"] = 1;
  out["expected"] = expected;
  out["delivered_min"] = counter.unique();
  out["delivered_total"] = counter.unique();
  out["duplicates"] = counter.duplicates();
  out["other_runs"] = counter.other_runs();
  out["lines"] = lines;
  out["bytes"] = bytes;
  out["untagged_lines"] = untagged;
  out["multi_tag_lines"] = multi_tag;
  out["invalid_lines"] = invalid;
  out["closed_by_server"] = closed_by_server;
  const double span = (last > first && first > 0) ? (last - first) / 1e9 : 0;
  out["delivered_per_s"] = span > 0 ? counter.unique() / span : 0.0;
  out["e2e_p50_us"] = latency.p50_us;
  out["e2e_p99_us"] = latency.p99_us;
  out["e2e_max_us"] = latency.max_us;
  out["cpu_s"] = nb::CpuSeconds() - cpu_before;
  out["span_s"] = span;
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
