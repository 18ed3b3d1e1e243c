#include "common/log.h"

#include <unistd.h>

#include <cstdio>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace ngsi_bridge::common {
namespace {

const char* SeverityName(LogSeverity severity) {
  switch (severity) {
    case LogSeverity::kInfo:
      return "info";
    case LogSeverity::kWarning:
      return "warning";
    case LogSeverity::kError:
      return "error";
  }
  return "info";
}

void AddFields(const LogFields& fields, nlohmann::ordered_json& line) {
  for (const auto& [key, value] : fields) {
    std::visit([&line, &key = key](const auto& v) { line[key] = v; }, value);
  }
}

// Replaces invalid UTF-8 instead of failing: a log line must never throw.
std::string Dump(const nlohmann::ordered_json& line) {
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
         "\n";
}

void WriteAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) return;  // Nowhere left to report a failing log stream.
    done += static_cast<size_t>(n);
  }
}

}  // namespace

void Log(LogSeverity severity, absl::string_view message,
         const LogFields& fields) {
  nlohmann::ordered_json line;
  line["ts"] = absl::FormatTime("%Y-%m-%d%ET%H:%M:%E3SZ", absl::Now(),
                                absl::UTCTimeZone());
  line["level"] = SeverityName(severity);
  line["msg"] = std::string(message);
  AddFields(fields, line);
  WriteAll(STDERR_FILENO, Dump(line));
}

void PrintEventLine(const LogFields& fields) {
  nlohmann::ordered_json line = nlohmann::ordered_json::object();
  AddFields(fields, line);
  WriteAll(STDOUT_FILENO, Dump(line));
}

}  // namespace ngsi_bridge::common
