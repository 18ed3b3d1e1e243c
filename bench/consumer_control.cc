#include "bench/consumer_control.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "bench/bench_util.h"

namespace ngsi_bridge::bench {

int64_t WaitForStop(const std::function<uint64_t()>& delivered_min,
                    const std::function<int64_t()>& last_event_ns,
                    int idle_ms, double max_s) {
  const int64_t start = MonoNs();
  const int64_t hard_end = start + static_cast<int64_t>(max_s * 1e9);
  int64_t expected = -1;
  int64_t expected_at = 0;
  std::string input;
  bool stdin_open = true;
  while (MonoNs() < hard_end) {
    if (stdin_open) {
      pollfd fd{0, POLLIN, 0};
      if (poll(&fd, 1, 20) > 0) {
        char buffer[256];
        const ssize_t n = read(0, buffer, sizeof(buffer));
        if (n <= 0) {
          stdin_open = false;
        } else {
          input.append(buffer, static_cast<size_t>(n));
          const size_t newline = input.find('\n');
          int64_t value = 0;
          if (newline != std::string::npos && expected < 0 &&
              absl::SimpleAtoi(
                  absl::StripAsciiWhitespace(input.substr(0, newline)),
                  &value)) {
            expected = value;
            expected_at = MonoNs();
          }
        }
      }
    } else {
      usleep(20000);
    }
    if (expected < 0) continue;
    if (delivered_min() >= static_cast<uint64_t>(expected)) break;
    const int64_t quiet_since = std::max(expected_at, last_event_ns());
    if (MonoNs() - quiet_since > int64_t{idle_ms} * 1000000) break;
  }
  return expected;
}

}  // namespace ngsi_bridge::bench
