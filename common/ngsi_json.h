#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/struct.pb.h"
#include "ngsi_bridge/v1/ngsi.pb.h"
#include "nlohmann/json_fwd.hpp"

// JSON <-> protobuf helpers shared by the receiver (notifications in) and the
// replier (entities out). Only the forward declarations of nlohmann/json are
// in this header; the library itself stays in .cc files.
namespace ngsi_bridge::common {

namespace v1 = ::ngsi_bridge::v1;

struct JsonLimits {
  // Objects and arrays nested deeper than this are rejected.
  int max_depth = 64;
};

// Parses `text` as UTF-8 JSON. Fails with kInvalidArgument naming the
// problem (invalid UTF-8 with its byte offset, syntax error with its
// position, nesting deeper than `limits.max_depth`). Never throws.
absl::StatusOr<nlohmann::json> ParseJson(absl::string_view text,
                                         const JsonLimits& limits = {});

// kInvalidArgument naming the byte offset of the first invalid UTF-8
// sequence (overlong forms and surrogates included), else OK.
absl::Status ValidateUtf8(absl::string_view text);

// Lossless JSON <-> google.protobuf.Value (numbers become doubles, as in
// JSON itself; integers beyond 2^53 lose precision exactly as in JavaScript).
google::protobuf::Value JsonToValue(const nlohmann::json& json);
nlohmann::json ValueToJson(const google::protobuf::Value& value);

// The event as one line of the `event-json` format: proto3 JSON mapping
// with the field names of ARCHITECTURE.md, no raw newline, no trailing
// newline. Byte for byte what protobuf's MessageToJsonString() prints, from
// a direct writer (several times faster); thread-safe.
std::string EventToJsonLine(const v1::NgsiEvent& event);
// The same through protobuf's MessageToJsonString() (the reference the
// tests compare EventToJsonLine() with).
std::string EventToJsonLineByProtobufForTest(const v1::NgsiEvent& event);

// Parses an `event-json` line back into an event (tests and tools).
absl::StatusOr<v1::NgsiEvent> EventFromJsonLine(absl::string_view line);

}  // namespace ngsi_bridge::common
