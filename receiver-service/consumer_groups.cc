#include "receiver-service/consumer_groups.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "nlohmann/json.hpp"

namespace ngsi_bridge::receiver {
namespace {

// A stream that ends at once with `status`. Deletes itself in OnDone().
class EndedStream : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  explicit EndedStream(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

int GroupPartitionOf(absl::string_view entity_id) {
  // FNV-1a: stable across runs, builds and languages (std::hash is not).
  uint64_t hash = 14695981039346656037ull;
  for (const char c : entity_id) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  return static_cast<int>(hash % kGroupPartitions);
}

std::vector<bool> OwnedPartitions(const std::vector<std::string>& members,
                                  absl::string_view member) {
  std::vector<bool> owned(kGroupPartitions, false);
  auto it = std::find(members.begin(), members.end(), member);
  if (it == members.end()) return owned;
  const size_t index = static_cast<size_t>(it - members.begin());
  for (int p = 0; p < kGroupPartitions; ++p) {
    owned[p] = static_cast<size_t>(p) % members.size() == index;
  }
  return owned;
}

GroupMatcher::GroupMatcher(std::unique_ptr<EventMatcher> filter,
                           std::vector<bool> owned,
                           std::vector<uint64_t> committed)
    : EventMatcher(v1::EventFilter()),
      filter_(std::move(filter)),
      owned_(std::move(owned)),
      committed_(std::move(committed)) {}

bool GroupMatcher::Keeps(uint64_t sequence, absl::string_view entity_id) const {
  const int p = GroupPartitionOf(entity_id);
  return owned_[p] && sequence > committed_[p];
}

const v1::NgsiEvent* GroupMatcher::Apply(const v1::NgsiEvent& event,
                                         v1::NgsiEvent& scratch) const {
  const v1::NgsiEvent* filtered = filter_->Apply(event, filtered_);
  if (filtered == nullptr) return nullptr;
  const uint64_t sequence = event.sequence();
  if (filtered->entities().empty()) {
    return Keeps(sequence, "") ? filtered : nullptr;
  }
  int kept = 0;
  for (const v1::Entity& entity : filtered->entities()) {
    if (Keeps(sequence, entity.id())) ++kept;
  }
  if (kept == 0) return nullptr;
  if (kept == filtered->entities_size()) return filtered;
  // Only this member's entities; the others go to their owners with the
  // same sequence.
  scratch = *filtered;
  scratch.clear_entities();
  for (const v1::Entity& entity : filtered->entities()) {
    if (Keeps(sequence, entity.id())) *scratch.add_entities() = entity;
  }
  return &scratch;
}

ConsumerGroups::ConsumerGroups(const Options& options, EventLog* log,
                               EventHub* hub)
    : options_(options), log_(log), hub_(hub) {}

ConsumerGroups::~ConsumerGroups() { Shutdown(); }

absl::StatusOr<std::unique_ptr<ConsumerGroups>> ConsumerGroups::Create(
    const Options& options, EventLog* log, EventHub* hub) {
  std::unique_ptr<ConsumerGroups> groups(
      new ConsumerGroups(options, log, hub));
  if (absl::Status loaded = groups->Load(); !loaded.ok()) return loaded;
  groups->thread_ = std::thread([raw = groups.get()] { raw->Run(); });
  return groups;
}

absl::Status ConsumerGroups::Load() {
  if (options_.offsets_file.empty()) return absl::OkStatus();
  std::ifstream in(options_.offsets_file);
  if (!in) return absl::OkStatus();  // no group committed yet
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json doc =
      nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  const auto groups = doc.find("groups");
  if (!doc.is_object() || groups == doc.end() || !groups->is_object()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "consumer group offsets ", options_.offsets_file,
        " are not {\"groups\":{...}}"));
  }
  absl::MutexLock lock(&mu_);
  for (const auto& [name, value] : groups->items()) {
    const auto committed = value.find("committed");
    if (!value.is_object() || committed == value.end() ||
        !committed->is_array() || committed->size() != kGroupPartitions) {
      return absl::FailedPreconditionError(absl::StrCat(
          "consumer group '", name, "' in ", options_.offsets_file,
          " has no committed array of ", kGroupPartitions, " offsets"));
    }
    Group& group = groups_[name];
    for (const nlohmann::json& offset : *committed) {
      if (!offset.is_number_unsigned()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "consumer group '", name, "' has a non-numeric offset"));
      }
      group.committed.push_back(offset.get<uint64_t>());
    }
  }
  return absl::OkStatus();
}

std::string ConsumerGroups::RenderLocked() const {
  nlohmann::json groups = nlohmann::json::object();
  for (const auto& [name, group] : groups_) {
    groups[name] = {{"committed", group.committed}};
  }
  nlohmann::json doc = {{"version", 1},
                        {"partitions", kGroupPartitions},
                        {"groups", groups}};
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::Status ConsumerGroups::WriteFile(const std::string& content) const {
  // Written aside, synced, renamed over: a crash leaves the old or the new
  // offsets, never half of them.
  const std::string temp = options_.offsets_file + ".tmp";
  const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                      0644);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot write ", temp, ": ", strerror(errno)));
  }
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  const bool ok = done == content.size() && fsync(fd) == 0;
  const int error = errno;
  close(fd);
  if (!ok || rename(temp.c_str(), options_.offsets_file.c_str()) != 0) {
    unlink(temp.c_str());
    return absl::UnavailableError(absl::StrCat(
        "cannot write ", options_.offsets_file, ": ", strerror(error)));
  }
  const std::string dir =
      options_.offsets_file.substr(0, options_.offsets_file.rfind('/'));
  const int dir_fd = open(dir.empty() ? "/" : dir.c_str(),
                          O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    fsync(dir_fd);
    close(dir_fd);
  }
  return absl::OkStatus();
}

std::vector<std::string> ConsumerGroups::MemberNamesLocked(
    const Group& group) const {
  std::vector<std::string> names;
  names.reserve(group.members.size());
  for (const auto& [name, member] : group.members) names.push_back(name);
  return names;
}

void ConsumerGroups::RebalanceLocked(
    Group& group, std::vector<std::shared_ptr<SubscribeReactor>>& ending) {
  ++group.generation;
  for (auto& [name, member] : group.members) {
    if (auto stream = member.stream.lock()) ending.push_back(std::move(stream));
  }
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* ConsumerGroups::Subscribe(
    grpc::CallbackServerContext* context, const v1::SubscribeRequest& request,
    std::unique_ptr<EventMatcher> filter, std::shared_ptr<void> lease,
    const BatchSettings& batching) {
  if (request.member().empty()) {
    return new EndedStream(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                        "a group subscription needs a member "
                                        "name"));
  }
  const LogStats stats = log_->stats();
  std::vector<std::shared_ptr<SubscribeReactor>> ending;
  std::shared_ptr<SubscribeReactor> stream;
  uint64_t generation = 0;
  uint64_t start = 0;
  // Refusals are answered after the lock: Finish() is never called under it.
  grpc::Status refused;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      refused = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                             "the receiver is shutting down");
    }
    Group* group = nullptr;
    if (refused.ok()) {
      auto [it, created] = groups_.try_emplace(request.group());
      group = &it->second;
      if (created || group->committed.empty()) {
        // A new group starts where the request says; from then on only its
        // commits move it.
        uint64_t initial = stats.latest_sequence;
        if (request.start() == v1::SubscribeRequest::EARLIEST) {
          initial = stats.earliest_sequence == 0
                        ? stats.latest_sequence
                        : stats.earliest_sequence - 1;
        } else if (request.start() == v1::SubscribeRequest::AFTER) {
          initial = std::min(request.after_sequence(), stats.latest_sequence);
        }
        group->committed.assign(kGroupPartitions, initial);
        dirty_ = true;
      }
      // Where the member would start, as if it were in the group already.
      std::vector<std::string> names = MemberNamesLocked(*group);
      if (group->members.count(request.member()) == 0) {
        names.insert(std::lower_bound(names.begin(), names.end(),
                                      request.member()),
                     request.member());
      }
      const std::vector<bool> owned = OwnedPartitions(names, request.member());
      start = stats.latest_sequence + 1;  // owns nothing: waits for changes
      for (int p = 0; p < kGroupPartitions; ++p) {
        if (owned[p]) start = std::min(start, group->committed[p] + 1);
      }
      if (stats.earliest_sequence != 0 && start < stats.earliest_sequence) {
        context->AddTrailingMetadata("ngsi-earliest-sequence",
                                     std::to_string(stats.earliest_sequence));
        refused = grpc::Status(
            grpc::StatusCode::OUT_OF_RANGE,
            absl::StrCat("group '", request.group(), "' committed up to ",
                         start - 1, " but the earliest retained sequence is ",
                         stats.earliest_sequence));
      } else {
        auto member_it = group->members.find(request.member());
        if (member_it == group->members.end()) {
          RebalanceLocked(*group, ending);
          member_it = group->members.emplace(request.member(), Member()).first;
        } else if (auto previous = member_it->second.stream.lock()) {
          ending.push_back(std::move(previous));  // replaced by this session
        }
        const uint64_t session = next_session_++;
        SubscribeOptions options = options_.subscribe;
        options.batch = batching;
        options.on_done = [this, group_name = request.group(),
                           member = request.member(), session] {
          SessionEnded(group_name, member, session);
        };
        stream = std::make_shared<SubscribeReactor>(
            context, log_, hub_,
            std::make_unique<GroupMatcher>(std::move(filter), owned,
                                           group->committed),
            start, request.end_sequence(), options,
            absl::StrCat("grpc-group-", request.group(), "-",
                         request.member()));
        Member& member = member_it->second;
        member.session = session;
        member.stream = stream;
        member.connected = true;
        generation = group->generation;
      }
    }
  }
  if (!refused.ok()) return new EndedStream(refused);
  context->AddInitialMetadata("ngsi-group-generation",
                              std::to_string(generation));
  const grpc::Status rebalanced(grpc::StatusCode::ABORTED,
                                "consumer group rebalanced; subscribe again "
                                "to resume from the committed offsets");
  for (const auto& other : ending) other->End(rebalanced);
  SubscribeReactor* raw = stream.get();
  raw->HoldLease(std::move(lease));
  // Sent before any event so that a member knows its generation (for
  // Commit) even while its partitions are quiet.
  raw->StartSendInitialMetadata();
  raw->Start(std::move(stream));
  return raw;
}

void ConsumerGroups::SessionEnded(const std::string& group_name,
                                  const std::string& member_name,
                                  uint64_t session) {
  absl::MutexLock lock(&mu_);
  auto group = groups_.find(group_name);
  if (group == groups_.end()) return;
  auto member = group->second.members.find(member_name);
  if (member == group->second.members.end() ||
      member->second.session != session) {
    return;  // an older session of a member that reconnected
  }
  member->second.connected = false;
  member->second.left = absl::Now();
}

grpc::ServerUnaryReactor* ConsumerGroups::Commit(
    grpc::CallbackServerContext* context, const v1::CommitRequest& request,
    v1::CommitResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  bool queued = false;
  grpc::Status status = ApplyCommit(request, response, reactor, queued);
  // Answered here unless queued for the offsets file (then by Run()); never
  // under our lock.
  if (!queued) reactor->Finish(status);
  return reactor;
}

grpc::Status ConsumerGroups::ApplyCommit(const v1::CommitRequest& request,
                                         v1::CommitResponse* response,
                                         grpc::ServerUnaryReactor* reactor,
                                         bool& queued) {
  absl::MutexLock lock(&mu_);
  auto group = groups_.find(request.group());
  if (group == groups_.end()) {
    return grpc::Status(
        grpc::StatusCode::NOT_FOUND,
        absl::StrCat("no consumer group '", request.group(), "'"));
  }
  Group& g = group->second;
  response->set_generation(g.generation);
  if (g.members.find(request.member()) == g.members.end()) {
    return grpc::Status(
        grpc::StatusCode::FAILED_PRECONDITION,
        absl::StrCat("member '", request.member(), "' is not in group '",
                     request.group(), "' (expired?); subscribe again"));
  }
  if (request.generation() != 0 && request.generation() != g.generation) {
    // Its partitions may have moved: the sequence says nothing about them.
    return grpc::Status(
        grpc::StatusCode::FAILED_PRECONDITION,
        absl::StrCat("group '", request.group(), "' rebalanced (generation ",
                     g.generation, "); subscribe again"));
  }
  const std::vector<bool> owned =
      OwnedPartitions(MemberNamesLocked(g), request.member());
  bool changed = false;
  for (int p = 0; p < kGroupPartitions; ++p) {
    if (owned[p] && request.sequence() > g.committed[p]) {
      g.committed[p] = request.sequence();
      changed = true;
    }
  }
  if (options_.offsets_file.empty() || !changed) return grpc::Status::OK;
  if (stopping_) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "the receiver is shutting down");
  }
  dirty_ = true;
  pending_.push_back(reactor);
  queued = true;
  return grpc::Status::OK;
}

void ConsumerGroups::Run() {
  for (;;) {
    std::vector<std::shared_ptr<SubscribeReactor>> ending;
    std::vector<grpc::ServerUnaryReactor*> answering;
    std::string content;
    bool stop = false;
    {
      auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !pending_.empty();
      };
      mu_.LockWhenWithTimeout(absl::Condition(&wake), absl::Milliseconds(100));
      stop = stopping_;
      const absl::Time now = absl::Now();
      for (auto& [name, group] : groups_) {
        bool expired = false;
        for (auto it = group.members.begin(); it != group.members.end();) {
          if (!it->second.connected &&
              now - it->second.left >= options_.session_timeout) {
            common::LogInfo("consumer group member expired",
                            {{"group", name}, {"member", it->first}});
            it = group.members.erase(it);
            expired = true;
          } else {
            ++it;
          }
        }
        if (expired) RebalanceLocked(group, ending);
      }
      if (dirty_ && !options_.offsets_file.empty()) {
        content = RenderLocked();
        dirty_ = false;
      }
      answering.swap(pending_);
      mu_.Unlock();
    }
    grpc::Status written = grpc::Status::OK;
    if (!content.empty()) {
      if (absl::Status status = WriteFile(content); !status.ok()) {
        common::LogError("consumer group offsets not written",
                         {{"error", status.ToString()}});
        written = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                               std::string(status.message()));
        absl::MutexLock lock(&mu_);
        dirty_ = true;  // retried on the next turn
      }
    }
    for (grpc::ServerUnaryReactor* reactor : answering) reactor->Finish(written);
    const grpc::Status rebalanced(grpc::StatusCode::ABORTED,
                                  "consumer group rebalanced (a member left); "
                                  "subscribe again");
    for (const auto& stream : ending) stream->End(rebalanced);
    if (stop) return;
  }
}

std::vector<uint64_t> ConsumerGroups::committed(
    absl::string_view group) const {
  absl::MutexLock lock(&mu_);
  auto it = groups_.find(std::string(group));
  return it == groups_.end() ? std::vector<uint64_t>() : it->second.committed;
}

uint64_t ConsumerGroups::generation(absl::string_view group) const {
  absl::MutexLock lock(&mu_);
  auto it = groups_.find(std::string(group));
  return it == groups_.end() ? 0 : it->second.generation;
}

void ConsumerGroups::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    dirty_ = dirty_ || !pending_.empty();
  }
  // The thread's last turn writes the file and answers pending commits.
  if (thread_.joinable()) thread_.join();
}

}  // namespace ngsi_bridge::receiver
