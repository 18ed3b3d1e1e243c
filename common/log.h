#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/string_view.h"

namespace ngsi_bridge::common {

// One structured log field; the value keeps its JSON type.
using LogValue = std::variant<std::string, int64_t, double, bool>;
using LogFields = std::vector<std::pair<std::string, LogValue>>;

enum class LogSeverity { kInfo, kWarning, kError };

// Writes one JSON object per line to stderr:
// {"ts":"...","level":"info","msg":"...", <fields>}. Thread-safe; each line
// is written with a single write() so lines never interleave.
void Log(LogSeverity severity, absl::string_view message,
         const LogFields& fields = {});
inline void LogInfo(absl::string_view message, const LogFields& fields = {}) {
  Log(LogSeverity::kInfo, message, fields);
}
inline void LogWarning(absl::string_view message,
                       const LogFields& fields = {}) {
  Log(LogSeverity::kWarning, message, fields);
}
inline void LogError(absl::string_view message, const LogFields& fields = {}) {
  Log(LogSeverity::kError, message, fields);
}

// Writes `fields` as one JSON object line to stdout and flushes: the
// `{"event":"listening",...}` line that tests and operators read.
void PrintEventLine(const LogFields& fields);

}  // namespace ngsi_bridge::common
