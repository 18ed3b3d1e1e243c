#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace ngsi_bridge::fuzz {

// The fuzz input format shared by the targets and the seed builder:
// "Name: value\n" lines, one empty line, then the body — so libFuzzer mutates
// headers (formats, Link, Content-Type) and bodies alike.
struct HeadersAndBody {
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

inline HeadersAndBody SplitInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  HeadersAndBody out;
  size_t position = 0;
  while (position < input.size()) {
    const size_t end = input.find('\n', position);
    const absl::string_view line = input.substr(
        position, end == absl::string_view::npos ? absl::string_view::npos
                                                 : end - position);
    position = end == absl::string_view::npos ? input.size() : end + 1;
    if (line.empty()) break;
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    absl::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    out.headers.emplace_back(std::string(line.substr(0, colon)),
                             std::string(value));
  }
  out.body = std::string(input.substr(position));
  return out;
}

}  // namespace ngsi_bridge::fuzz
