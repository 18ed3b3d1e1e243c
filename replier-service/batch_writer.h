#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/metrics.h"
#include "ngsi_bridge/v1/replier.pb.h"
#include "replier-service/dead_letter_file.h"
#include "replier-service/orion_client.h"
#include "replier-service/replier_config.h"

namespace ngsi_bridge::replier {

// Whether a passthrough call may reach the broker twice with the effect of
// once: GET, HEAD, PUT, DELETE, and PATCH (NGSI PATCH sets the given
// attributes or subscription members to the given values) — unless the body
// uses one of Orion's accumulating update operators ($inc, $mul, $push),
// which make any method non-idempotent. POST never is (it creates, appends
// or runs a batch).
bool PassthroughIsIdempotent(absl::string_view method, absl::string_view body);

// Does the broker work of the replier: owns one OrionClient per configured
// broker and a bounded pool of worker threads on which every blocking HTTP
// call runs, so gRPC callback threads never block. Owned by ReplierServer.
// Thread-safe. Start() launches the workers; Shutdown() (idempotent, also
// from the destructor) refuses new tasks, makes broker calls fail fast,
// still runs every queued task (each finishes its RPC) and joins.
class BatchWriter {
 public:
  // kInvalidArgument for a broker URL that cannot be used.
  static absl::StatusOr<std::unique_ptr<BatchWriter>> Create(
      const ReplierConfig& config, common::MetricsRegistry* metrics);
  ~BatchWriter();

  void Start();
  void Shutdown();

  // Queues `task` for a worker thread. Never blocks. kUnavailable when the
  // queue holds max_queued_requests tasks or after Shutdown(); then `task`
  // is dropped unrun.
  absl::Status Enqueue(std::function<void()> task);

  // Writes the request's entities to its broker: validates, renders, splits
  // under the broker's limits, sends, reads the answers, and returns one
  // result per entity in request order. Fails as a whole only with
  // kNotFound (broker not configured) or kInvalidArgument (no operation).
  // Blocks on HTTP: call it from a worker (Enqueue) or a test.
  absl::StatusOr<v1::WriteResponse> Write(const v1::WriteRequest& request,
                                          absl::Time deadline);

  // One raw call under a configured broker's base URL. kNotFound for an
  // unknown broker, kInvalidArgument for a method or path that could leave
  // the broker (absolute URL, "..", encoded separators, scheme or host
  // changes), kUnavailable / kDeadlineExceeded when no answer came. Any HTTP
  // answer is returned as is. Retries (OrionClient's policy) only calls
  // that PassthroughIsIdempotent(); others are retried only when the
  // connection could not be made, never after a 5xx, a lost answer or a
  // timeout. Blocks.
  absl::StatusOr<v1::PassthroughResponse> Passthrough(
      const v1::PassthroughRequest& request, absl::Time deadline);

  // Names, URLs and flavors; never credentials. Does not block.
  v1::ListBrokersResponse ListBrokers() const;

  // A response giving every entity of `request` the error `status`.
  static v1::WriteResponse ResponseForError(const v1::WriteRequest& request,
                                            const absl::Status& status);

 private:
  struct WriteJob;
  struct BatchRun;

  BatchWriter(const ReplierConfig& config, common::MetricsRegistry* metrics);
  void WorkerLoop();
  // Sends every batch; concurrently (up to the broker's max_connections, on
  // helper tasks) when no entity appears twice in the request. Returns when
  // all are done.
  void RunBatches(WriteJob& job,
                  const std::vector<std::vector<size_t>>& batches);
  void SendBatch(WriteJob& job, const std::vector<size_t>& batch);
  void DeleteLdAttributes(WriteJob& job, size_t index);
  void RecordOutcome(WriteJob& job, size_t index, absl::StatusCode code,
                     std::string message, int http_status,
                     std::string broker_error,
                     std::vector<std::string> failed_attrs = {});

  const ReplierConfig config_;
  common::MetricsRegistry* const metrics_;
  common::Gauge& queue_depth_;
  std::map<std::string, std::unique_ptr<OrionClient>> clients_;
  std::unique_ptr<DeadLetterFile> dead_letters_;  // --dead_letter_file

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;  // touched by Start/Shutdown only
  bool shut_down_ = false;
};

}  // namespace ngsi_bridge::replier
