#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "ngsi_bridge/v1/replier.pb.h"

namespace ngsi_bridge::replier {

// The replier's dead-letter file (--dead_letter_file): one JSON line per
// entity whose write still failed with a transient error (UNAVAILABLE,
// DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL) once the retries were
// exhausted, so that it can be replayed when the broker is back
// (scripts/replay-dead-letters). Errors the broker meant (4xx) are not dead
// letters: replaying them would fail the same way. A line:
//
//   {"time":"2026-11-25T10:00:00.123Z","broker":"orion","op":"upsert",
//    "tenant":"smartcity","service_path":"/madrid","correlator":"...",
//    "request_id":"...","delete_attributes":false,"contexts":[...],
//    "entity":{<v1.Entity, proto3 JSON>},"code":"unavailable","error":"..."}
//
// Owned by BatchWriter. Thread-safe; Record() blocks on one O_APPEND write.
class DeadLetterFile {
 public:
  // Opens (creating) `path` for appending. kFailedPrecondition when it
  // cannot be opened.
  static absl::StatusOr<std::unique_ptr<DeadLetterFile>> Open(
      const std::string& path);
  ~DeadLetterFile();

  // Appends the dead letters of one answered request and returns how many.
  // A failed write is logged (the per-entity results still say what
  // failed), never returned.
  size_t Record(const v1::WriteRequest& request,
                const v1::WriteResponse& response);

  uint64_t recorded() const;

 private:
  DeadLetterFile(std::string path, int fd);

  const std::string path_;
  const int fd_;
  mutable absl::Mutex mu_;
  uint64_t recorded_ ABSL_GUARDED_BY(mu_) = 0;
};

// Whether a per-entity result code is a transient failure worth replaying.
bool IsDeadLetterCode(int code);

}  // namespace ngsi_bridge::replier
