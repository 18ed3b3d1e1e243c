#include "replier-service/dead_letter_file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"

namespace ngsi_bridge::replier {
namespace {

std::string OperationName(v1::Operation operation) {
  switch (operation) {
    case v1::OPERATION_CREATE: return "create";
    case v1::OPERATION_UPSERT: return "upsert";
    case v1::OPERATION_UPDATE: return "update";
    case v1::OPERATION_APPEND: return "append";
    case v1::OPERATION_APPEND_STRICT: return "append-strict";
    case v1::OPERATION_REPLACE: return "replace";
    case v1::OPERATION_DELETE: return "delete";
    default: return "unspecified";
  }
}

// Proto3 JSON of `message` parsed back as JSON (so the line nests it).
template <typename Message>
nlohmann::json ProtoJson(const Message& message) {
  std::string text;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = false;
  if (!google::protobuf::util::MessageToJsonString(message, &text, options)
           .ok()) {
    return nullptr;
  }
  return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
}

}  // namespace

bool IsDeadLetterCode(int code) {
  switch (static_cast<absl::StatusCode>(code)) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kInternal:
      return true;
    default:
      return false;
  }
}

DeadLetterFile::DeadLetterFile(std::string path, int fd)
    : path_(std::move(path)), fd_(fd) {}

DeadLetterFile::~DeadLetterFile() { close(fd_); }

absl::StatusOr<std::unique_ptr<DeadLetterFile>> DeadLetterFile::Open(
    const std::string& path) {
  const int fd =
      open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot open --dead_letter_file ", path, ": ", strerror(errno)));
  }
  return std::unique_ptr<DeadLetterFile>(new DeadLetterFile(path, fd));
}

size_t DeadLetterFile::Record(const v1::WriteRequest& request,
                              const v1::WriteResponse& response) {
  std::string lines;
  size_t count = 0;
  const std::string time =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  nlohmann::json contexts = nlohmann::json::array();
  for (const auto& context : request.contexts()) {
    contexts.push_back(ProtoJson(context));
  }
  for (int i = 0; i < response.results_size() && i < request.entities_size();
       ++i) {
    const v1::EntityResult& result = response.results(i);
    if (!IsDeadLetterCode(result.code())) continue;
    nlohmann::json line = {
        {"time", time},
        {"broker", request.broker()},
        {"op", OperationName(request.operation())},
        {"tenant", request.service()},
        {"service_path", request.service_path()},
        {"correlator", request.correlator()},
        {"request_id", request.request_id()},
        {"delete_attributes", request.delete_attributes()},
        {"contexts", contexts},
        {"entity", ProtoJson(request.entities(i))},
        {"code", absl::AsciiStrToLower(absl::StatusCodeToString(
                     static_cast<absl::StatusCode>(result.code())))},
        {"error", result.message()}};
    lines += line.dump(-1, ' ', false,
                       nlohmann::json::error_handler_t::replace);
    lines += '\n';
    ++count;
  }
  if (count == 0) return 0;
  absl::MutexLock lock(&mu_);
  // One write per request: O_APPEND keeps concurrent requests' lines whole.
  size_t done = 0;
  while (done < lines.size()) {
    const ssize_t n = write(fd_, lines.data() + done, lines.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      common::LogError("dead letters not written",
                       {{"path", path_},
                        {"entities", static_cast<int64_t>(count)},
                        {"error", strerror(errno)}});
      return 0;
    }
    done += static_cast<size_t>(n);
  }
  recorded_ += count;
  return count;
}

uint64_t DeadLetterFile::recorded() const {
  absl::MutexLock lock(&mu_);
  return recorded_;
}

}  // namespace ngsi_bridge::replier
