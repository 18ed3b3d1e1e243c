#pragma once

#include <cstdint>
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
#include "grpcpp/support/server_callback.h"
#include "ngsi_bridge/v1/receiver.grpc.pb.h"
#include "receiver-service/event_hub.h"
#include "receiver-service/event_log.h"
#include "receiver-service/subscribe_reactor.h"

namespace ngsi_bridge::receiver {

// Partitions of every group: an entity belongs to partition
// FNV-1a-64(entity id) % kGroupPartitions, whatever the members.
inline constexpr int kGroupPartitions = 64;
int GroupPartitionOf(absl::string_view entity_id);

// The partitions `member` owns among `members` (sorted, distinct): partition
// p goes to members[p % members.size()].
std::vector<bool> OwnedPartitions(const std::vector<std::string>& members,
                                  absl::string_view member);

// Keeps, of an event that passed the subscriber's filter, the entities of
// the member's partitions not committed yet (sequence above `committed[p]`).
// An event with no entities belongs to the partition of "". Used by one
// SubscribeReactor's pump at a time: not thread-safe.
class GroupMatcher : public EventMatcher {
 public:
  GroupMatcher(std::unique_ptr<EventMatcher> filter, std::vector<bool> owned,
               std::vector<uint64_t> committed);
  const v1::NgsiEvent* Apply(const v1::NgsiEvent& event,
                             v1::NgsiEvent& scratch) const override;

 private:
  bool Keeps(uint64_t sequence, absl::string_view entity_id) const;

  const std::unique_ptr<EventMatcher> filter_;
  const std::vector<bool> owned_;
  const std::vector<uint64_t> committed_;
  mutable v1::NgsiEvent filtered_;
};

// Consumer groups of EventStream (SubscribeRequest.group, Commit): members,
// the partition assignment, and the committed offset of every partition,
// stored in `offsets_file` (JSON, replaced atomically) or in memory.
//
// A member's stream is a SubscribeReactor with a GroupMatcher, starting at
// the lowest committed offset of its partitions. Any change of membership
// (a new member name, or one disconnected longer than the session timeout)
// bumps the group's generation and ends every member's stream with ABORTED;
// the members subscribe again and each resumes from the committed offsets of
// its new partitions, so everything after the last commit is delivered
// again (at-least-once), in order per entity. A member reconnecting under
// the same name changes nothing.
//
// Owned by ReceiverServer; outlives the gRPC server. Thread-safe. One thread
// expires members and writes the offsets file; a Commit is answered once
// its offsets are on disk (the gRPC thread never waits for the write).
class ConsumerGroups {
 public:
  struct Options {
    std::string offsets_file;  // "" = committed offsets in memory only
    absl::Duration session_timeout = absl::Seconds(10);
    SubscribeOptions subscribe;
  };

  // Loads `offsets_file` when it exists; kFailedPrecondition when it cannot
  // be read or parsed. Starts the thread.
  static absl::StatusOr<std::unique_ptr<ConsumerGroups>> Create(
      const Options& options, EventLog* log, EventHub* hub);
  ~ConsumerGroups();

  // EventStream.Subscribe (or SubscribeBatches, `batching.max_events` > 0,
  // see BatchSettings) with a group; `filter` is the subscriber's compiled
  // filter (tenants granted included), `lease` its stream-limiter slot
  // (held by the stream; may be null). Never blocks.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Subscribe(
      grpc::CallbackServerContext* context, const v1::SubscribeRequest& request,
      std::unique_ptr<EventMatcher> filter, std::shared_ptr<void> lease,
      const BatchSettings& batching = {});
  // EventStream.Commit. NOT_FOUND for an unknown group, FAILED_PRECONDITION
  // for a member not in the group or a stale generation.
  grpc::ServerUnaryReactor* Commit(grpc::CallbackServerContext* context,
                                   const v1::CommitRequest& request,
                                   v1::CommitResponse* response);

  // Committed offsets of `group` (empty when unknown). Tests and metrics.
  std::vector<uint64_t> committed(absl::string_view group) const;
  uint64_t generation(absl::string_view group) const;

  // Ends every member stream, answers pending commits, writes the file,
  // joins the thread. Idempotent.
  void Shutdown();

 private:
  struct Member {
    uint64_t session = 0;
    std::weak_ptr<SubscribeReactor> stream;
    bool connected = false;
    absl::Time left;  // when `connected` went false
  };
  struct Group {
    uint64_t generation = 1;
    std::vector<uint64_t> committed;
    std::map<std::string, Member> members;  // sorted: the assignment order
  };

  ConsumerGroups(const Options& options, EventLog* log, EventHub* hub);
  absl::Status Load();
  // The file's content, and whether it needs writing.
  std::string RenderLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteFile(const std::string& content) const;
  std::vector<std::string> MemberNamesLocked(const Group& group) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Bumps the generation and collects the streams to end.
  void RebalanceLocked(Group& group,
                       std::vector<std::shared_ptr<SubscribeReactor>>& ending)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies a commit. `queued`: `reactor` waits in pending_ for the
  // offsets file and Run() answers it.
  grpc::Status ApplyCommit(const v1::CommitRequest& request,
                           v1::CommitResponse* response,
                           grpc::ServerUnaryReactor* reactor, bool& queued);
  void SessionEnded(const std::string& group, const std::string& member,
                    uint64_t session);
  void Run();

  const Options options_;
  EventLog* const log_;
  EventHub* const hub_;

  mutable absl::Mutex mu_;
  std::map<std::string, Group> groups_ ABSL_GUARDED_BY(mu_);
  uint64_t next_session_ ABSL_GUARDED_BY(mu_) = 1;
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<grpc::ServerUnaryReactor*> pending_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace ngsi_bridge::receiver
