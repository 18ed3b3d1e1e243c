#include "replier-service/batch_writer.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <optional>
#include <random>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/log.h"
#include "common/ngsi_json.h"
#include "replier-service/batch_planner.h"
#include "replier-service/entity_renderer.h"
#include "replier-service/entity_validator.h"
#include "replier-service/result_parser.h"

namespace ngsi_bridge::replier {
namespace {

constexpr char kCoreContext[] =
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld";

// Operations a second application leaves as the first did; only their
// batches may be re-sent in parts to find out who failed.
bool IsIdempotent(v1::Operation operation) {
  return operation != v1::OPERATION_CREATE &&
         operation != v1::OPERATION_APPEND_STRICT &&
         operation != v1::OPERATION_DELETE;
}

const char* V2ActionType(v1::Operation operation) {
  switch (operation) {
    case v1::OPERATION_CREATE:
    case v1::OPERATION_APPEND_STRICT:
      return "appendStrict";
    case v1::OPERATION_UPSERT:
    case v1::OPERATION_APPEND:
      return "append";
    case v1::OPERATION_UPDATE:
      return "update";
    case v1::OPERATION_REPLACE:
      return "replace";
    case v1::OPERATION_DELETE:
      return "delete";
    default:
      return "";
  }
}

// NGSI-LD batch endpoint and options for an operation.
std::pair<std::string, std::string> LdEndpoint(v1::Operation operation) {
  switch (operation) {
    case v1::OPERATION_CREATE:
      return {"create", ""};
    case v1::OPERATION_UPSERT:
      return {"upsert", "options=update"};
    case v1::OPERATION_UPDATE:
    case v1::OPERATION_APPEND:
      return {"update", ""};
    case v1::OPERATION_APPEND_STRICT:
      return {"update", "options=noOverwrite"};
    case v1::OPERATION_REPLACE:
      return {"upsert", "options=replace"};
    case v1::OPERATION_DELETE:
      return {"delete", ""};
    default:
      return {"", ""};
  }
}

std::string NewCorrelator() {
  thread_local std::mt19937_64 random(std::random_device{}());
  const uint64_t a = random(), b = random();
  return absl::StrFormat("%08x-%04x-4%03x-%04x-%012x", a >> 32,
                         (a >> 16) & 0xffff, a & 0xfff,
                         ((b >> 48) & 0x3fff) | 0x8000,
                         b & 0xffffffffffffULL);
}

std::string UrlEncode(absl::string_view text) {
  std::string out;
  for (const char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' ||
        c == '~' || c == ':') {
      out.push_back(c);
    } else {
      absl::StrAppendFormat(&out, "%%%02X", static_cast<unsigned char>(c));
    }
  }
  return out;
}

std::string CodeName(absl::StatusCode code) {
  return absl::AsciiStrToLower(absl::StatusCodeToString(code));
}

}  // namespace

// Everything one Write() works with.
struct BatchWriter::WriteJob {
  explicit WriteJob(const v1::WriteRequest& r) : request(r) {}
  const v1::WriteRequest& request;
  OrionClient* client = nullptr;
  absl::Time deadline;
  v1::Flavor flavor = v1::NGSI_V2;
  HttpCall base_call;  // path, query, headers, content type
  std::string prefix, suffix;
  std::vector<std::string> rendered;
  // Batches of one request may run on several workers at once; each writes
  // only its own entities' results, which exist before any batch starts.
  v1::WriteResponse response;
  std::atomic<uint32_t> broker_calls{0};
};

// The batches of one request, claimed one at a time by the worker running
// the request and by helpers it queued. Shared so a helper that starts after
// all batches were claimed (the request may be answered by then) touches
// nothing but this.
struct BatchWriter::BatchRun {
  explicit BatchRun(size_t count) : total(count) {}
  bool AllFinished() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return finished == total;
  }

  const size_t total;
  std::atomic<size_t> next{0};
  absl::Mutex mu;
  size_t finished ABSL_GUARDED_BY(mu) = 0;
};

absl::StatusOr<std::unique_ptr<BatchWriter>> BatchWriter::Create(
    const ReplierConfig& config, common::MetricsRegistry* metrics) {
  std::unique_ptr<BatchWriter> writer(new BatchWriter(config, metrics));
  for (const BrokerConfig& broker : config.brokers) {
    auto client = OrionClient::Create(broker, config.retry, metrics);
    if (!client.ok()) return client.status();
    writer->clients_[broker.name] = std::move(*client);
  }
  if (!config.dead_letter_file.empty()) {
    auto dead_letters = DeadLetterFile::Open(config.dead_letter_file);
    if (!dead_letters.ok()) return dead_letters.status();
    writer->dead_letters_ = *std::move(dead_letters);
  }
  return writer;
}

BatchWriter::BatchWriter(const ReplierConfig& config,
                         common::MetricsRegistry* metrics)
    : config_(config),
      metrics_(metrics),
      queue_depth_(metrics->GetGauge(
          "ngsi_replier_queue_depth",
          "Write/passthrough requests waiting for a worker thread.")) {}

BatchWriter::~BatchWriter() { Shutdown(); }

void BatchWriter::Start() {
  for (int i = 0; i < config_.worker_threads; ++i) {
    workers_.emplace_back([this] { WorkerLoop(); });
  }
}

void BatchWriter::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  for (auto& [name, client] : clients_) client->Shutdown();
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& worker : workers_) worker.join();
  // Tasks queued after the workers left (none: Enqueue refuses once
  // stopping_) or when Start() never ran still owe their RPC an answer.
  std::deque<std::function<void()>> left;
  {
    absl::MutexLock lock(&mu_);
    left.swap(queue_);
  }
  for (auto& task : left) task();
}

absl::Status BatchWriter::Enqueue(std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("replier is shutting down");
  if (static_cast<int>(queue_.size()) >= config_.max_queued_requests) {
    return absl::UnavailableError(absl::StrCat(
        "replier is busy: ", queue_.size(), " requests queued"));
  }
  queue_.push_back(std::move(task));
  queue_depth_.Set(queue_.size());
  return absl::OkStatus();
}

void BatchWriter::WorkerLoop() {
  for (;;) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](BatchWriter* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return self->stopping_ || !self->queue_.empty();
          },
          this));
      // Drain before leaving: every queued task finishes an RPC.
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
      queue_depth_.Set(queue_.size());
    }
    task();
  }
}

v1::WriteResponse BatchWriter::ResponseForError(const v1::WriteRequest& request,
                                                const absl::Status& status) {
  v1::WriteResponse response;
  response.set_request_id(request.request_id());
  for (const v1::Entity& entity : request.entities()) {
    v1::EntityResult* result = response.add_results();
    result->set_id(entity.id());
    result->set_type(entity.type());
    result->set_code(static_cast<int>(status.code()));
    result->set_message(std::string(status.message()));
  }
  response.set_failed(request.entities_size());
  return response;
}

v1::ListBrokersResponse BatchWriter::ListBrokers() const {
  v1::ListBrokersResponse response;
  for (const BrokerConfig& broker : config_.brokers) {
    v1::BrokerInfo* info = response.add_brokers();
    info->set_name(broker.name);
    info->set_url(broker.url);
    info->set_flavor(broker.flavor);
  }
  return response;
}

void BatchWriter::RecordOutcome(WriteJob& job, size_t index,
                                absl::StatusCode code, std::string message,
                                int http_status, std::string broker_error,
                                std::vector<std::string> failed_attrs) {
  v1::EntityResult* result = job.response.mutable_results(index);
  result->set_code(static_cast<int>(code));
  result->set_message(std::move(message));
  result->set_http_status(http_status);
  result->set_broker_error(std::move(broker_error));
  result->clear_failed_attrs();
  for (std::string& attr : failed_attrs) {
    result->add_failed_attrs(std::move(attr));
  }
}

absl::StatusOr<v1::WriteResponse> BatchWriter::Write(
    const v1::WriteRequest& request, absl::Time deadline) {
  const auto found = clients_.find(request.broker());
  if (found == clients_.end()) {
    return absl::NotFoundError(absl::StrCat(
        "broker '", request.broker(), "' is not configured on this replier"));
  }
  if (request.operation() == v1::OPERATION_UNSPECIFIED ||
      !v1::Operation_IsValid(request.operation())) {
    return absl::InvalidArgumentError(
        absl::StrCat("operation ", request.operation(), " is not supported"));
  }
  OrionClient* client = found->second.get();
  const BrokerConfig& broker = client->config();
  WriteJob job(request);
  job.client = client;
  job.deadline = deadline;
  job.flavor = broker.flavor;
  job.response.set_request_id(request.request_id());
  for (const v1::Entity& entity : request.entities()) {
    v1::EntityResult* result = job.response.add_results();
    result->set_id(entity.id());
    result->set_type(entity.type());
  }

  // Check every entity first: a bad one fails alone.
  std::vector<bool> sendable(request.entities_size(), false);
  const bool ld = broker.flavor == v1::NGSI_LD;
  const bool is_delete = request.operation() == v1::OPERATION_DELETE;
  for (int i = 0; i < request.entities_size(); ++i) {
    const v1::Entity& entity = request.entities(i);
    absl::Status valid =
        ValidateEntity(entity, broker.flavor, request.operation());
    if (valid.ok() && is_delete && request.delete_attributes() &&
        entity.attrs_size() == 0) {
      // Orion would delete the whole entity for an empty attribute list.
      valid = absl::InvalidArgumentError(
          "delete_attributes is set but the entity lists no attributes");
    }
    if (!valid.ok()) {
      RecordOutcome(job, i, valid.code(),
                    absl::StrCat("rejected before sending: ", valid.message()),
                    0, "");
      continue;
    }
    sendable[i] = true;
  }

  // Headers every call of this request carries.
  HttpHeaders& headers = job.base_call.headers;
  const std::string& service =
      request.service().empty() ? broker.service : request.service();
  const std::string& service_path = request.service_path().empty()
                                        ? broker.service_path
                                        : request.service_path();
  if (ld) {
    if (!service.empty()) headers.emplace_back("NGSILD-Tenant", service);
  } else {
    if (!service.empty()) headers.emplace_back("Fiware-Service", service);
    if (!service_path.empty()) {
      headers.emplace_back("Fiware-ServicePath", service_path);
    }
  }
  headers.emplace_back("Fiware-Correlator", request.correlator().empty()
                                                ? NewCorrelator()
                                                : request.correlator());

  RenderOptions options;
  options.flavor = broker.flavor;
  job.base_call.content_type = "application/json";
  if (ld) {
    // One URL context travels as a Link header; anything richer, or an
    // entity with its own @context, needs application/ld+json with the
    // context inline in every entity.
    bool inline_needed = request.contexts_size() > 1;
    for (const auto& context : request.contexts()) {
      if (!context.has_string_value()) inline_needed = true;
    }
    for (int i = 0; i < request.entities_size(); ++i) {
      if (sendable[i] && request.entities(i).has_context()) {
        inline_needed = true;
      }
    }
    if (is_delete) inline_needed = false;
    if (inline_needed) {
      job.base_call.content_type = "application/ld+json";
      options.inline_context.assign(request.contexts().begin(),
                                    request.contexts().end());
      if (options.inline_context.empty()) {
        options.inline_context.emplace_back().set_string_value(kCoreContext);
      }
    } else if (request.contexts_size() == 1) {
      headers.emplace_back(
          "Link",
          absl::StrCat("<", request.contexts(0).string_value(),
                       ">; rel=\"http://www.w3.org/ns/json-ld#context\"; "
                       "type=\"application/ld+json\""));
    }
    options.identity_only = is_delete;
    const auto [endpoint, query] = LdEndpoint(request.operation());
    job.base_call.path = "/ngsi-ld/v1/entityOperations/" + endpoint;
    job.base_call.query = query;
    job.prefix = "[";
    job.suffix = "]";
  } else {
    options.identity_only = is_delete && !request.delete_attributes();
    bool all_bare = !is_delete;
    bool any_attr = false;
    for (int i = 0; i < request.entities_size() && all_bare; ++i) {
      if (!sendable[i]) continue;
      const v1::Entity& entity = request.entities(i);
      if (entity.attrs_size() == 0) continue;
      any_attr = true;
      all_bare = AllAttributesBare(entity);
    }
    options.key_values = all_bare && any_attr;
    job.base_call.path = "/v2/op/update";
    if (options.key_values) job.base_call.query = "options=keyValues";
    job.prefix = absl::StrCat("{\"actionType\":\"",
                              V2ActionType(request.operation()),
                              "\",\"entities\":[");
    job.suffix = "]}";
  }

  if (ld && is_delete && request.delete_attributes()) {
    // NGSI-LD has no batch attribute delete: one call per attribute.
    for (int i = 0; i < request.entities_size(); ++i) {
      if (sendable[i]) DeleteLdAttributes(job, i);
    }
  } else {
    job.rendered.resize(request.entities_size());
    std::vector<PlannedEntity> planned;
    for (int i = 0; i < request.entities_size(); ++i) {
      if (!sendable[i]) continue;
      job.rendered[i] = RenderEntity(request.entities(i), options);
      planned.push_back({static_cast<size_t>(i), job.rendered[i].size(),
                         request.entities(i).id()});
    }
    BatchLimits limits;
    limits.max_entities = broker.EffectiveMaxEntities();
    limits.max_bytes = broker.max_bytes;
    limits.envelope_bytes = job.prefix.size() + job.suffix.size();
    const BatchPlan plan = PlanBatches(planned, limits);
    for (const size_t index : plan.too_large) {
      RecordOutcome(job, index, absl::StatusCode::kInvalidArgument,
                    absl::StrCat("rejected before sending: the entity renders "
                                 "to ",
                                 job.rendered[index].size(),
                                 " bytes, over the broker's limit of ",
                                 broker.max_bytes),
                    0, "");
    }
    RunBatches(job, plan.batches);
  }
  job.response.set_broker_calls(job.broker_calls.load());

  // Counted per outcome first: a labelled counter lookup formats and
  // finds its labels (5 % of the replier's CPU when done per entity).
  std::map<int, uint32_t> outcomes;
  for (const v1::EntityResult& result : job.response.results()) {
    ++outcomes[result.code()];
  }
  for (const auto& [code, count] : outcomes) {
    metrics_
        ->GetCounter("ngsi_replier_entities_total",
                     "Entities written, by broker and outcome.",
                     {{"broker", broker.name},
                      {"outcome", CodeName(static_cast<absl::StatusCode>(code))}})
        .Increment(count);
  }
  const uint32_t succeeded = outcomes[0];  // 0 = OK
  job.response.set_succeeded(succeeded);
  job.response.set_failed(job.response.results_size() - succeeded);
  if (dead_letters_ != nullptr &&
      static_cast<int>(succeeded) < job.response.results_size()) {
    dead_letters_->Record(request, job.response);
  }
  return std::move(job.response);
}

void BatchWriter::RunBatches(WriteJob& job,
                             const std::vector<std::vector<size_t>>& batches) {
  // Batches may only overlap in time when no entity is in two of them:
  // otherwise a later write to an entity could overtake an earlier one.
  absl::flat_hash_set<absl::string_view> ids;
  ids.reserve(static_cast<size_t>(job.request.entities_size()));
  bool independent = true;
  for (const v1::Entity& entity : job.request.entities()) {
    independent = independent && ids.insert(entity.id()).second;
  }
  const int parallel =
      independent ? std::min<int>(job.client->config().max_connections,
                                  static_cast<int>(batches.size()))
                  : 1;
  auto run = std::make_shared<BatchRun>(batches.size());
  // Claims and sends batches until none is left. Never waits for another
  // task, so helpers that no worker picks up cannot stall the request.
  const auto drain = [&job, &batches, this](BatchRun& state) {
    for (;;) {
      // `state.total`, not `batches.size()`: a helper that runs after the
      // request finished must not touch `batches` (gone by then) at all.
      const size_t k = state.next.fetch_add(1);
      if (k >= state.total) return;
      SendBatch(job, batches[k]);
      absl::MutexLock lock(&state.mu);
      ++state.finished;
    }
  };
  for (int i = 1; i < parallel; ++i) {
    // `job` and `batches` outlive every claimed batch: this call returns
    // only after all batches finished, and a late helper claims none.
    const absl::Status queued = Enqueue([run, drain] { drain(*run); });
    if (!queued.ok()) break;  // busy: this worker does the rest itself
  }
  drain(*run);
  absl::MutexLock lock(&run->mu);
  run->mu.Await(absl::Condition(run.get(), &BatchRun::AllFinished));
}

void BatchWriter::SendBatch(WriteJob& job, const std::vector<size_t>& batch) {
  if (absl::Now() >= job.deadline) {
    for (const size_t index : batch) {
      RecordOutcome(job, index, absl::StatusCode::kDeadlineExceeded,
                    "not sent: the request's deadline passed", 0, "");
    }
    return;
  }
  HttpCall call = job.base_call;
  call.body = job.prefix;
  for (size_t k = 0; k < batch.size(); ++k) {
    if (k > 0) call.body.push_back(',');
    call.body += job.rendered[batch[k]];
  }
  call.body += job.suffix;
  ++job.broker_calls;
  absl::StatusOr<HttpAnswer> answer = job.client->Send(call, job.deadline);
  if (!answer.ok()) {
    for (const size_t index : batch) {
      RecordOutcome(job, index, answer.status().code(),
                    std::string(answer.status().message()), 0, "");
    }
    return;
  }
  const int status = answer->status;
  const bool idempotent = IsIdempotent(job.request.operation());
  const auto split = [&] {
    const size_t half = batch.size() / 2;
    SendBatch(job, std::vector<size_t>(batch.begin(), batch.begin() + half));
    SendBatch(job, std::vector<size_t>(batch.begin() + half, batch.end()));
  };
  // A 400 or 413 rejects the whole body before anything is written, so
  // halving the batch to find the culprit can never apply anything twice.
  if ((status == 400 || status == 413) && batch.size() > 1) {
    split();
    return;
  }
  std::vector<SentEntity> sent;
  for (const size_t index : batch) {
    const v1::Entity& entity = job.request.entities(index);
    sent.push_back({entity.id(), entity.type()});
  }
  const bool attributable = status / 100 == 2 ||
                            (job.flavor == v1::NGSI_V2 &&
                             (status == 404 || status == 422)) ||
                            batch.size() == 1;
  if (!attributable) {
    // 401, 403, 5xx after retries...: the batch as a whole failed.
    const std::string text = BrokerErrorText(answer->body);
    for (const size_t index : batch) {
      RecordOutcome(job, index, CodeForHttpStatus(status, text),
                    absl::StrCat("broker answered ", status, " for the batch",
                                 answer->attempts > 1
                                     ? absl::StrCat(" after ",
                                                    answer->attempts,
                                                    " attempts")
                                     : ""),
                    status, text);
    }
    return;
  }
  Attribution attribution =
      job.flavor == v1::NGSI_V2
          ? AttributeV2Response(sent, status, answer->body)
          : AttributeLdResponse(sent, status, answer->body);
  if (!attribution.complete && idempotent && batch.size() > 1) {
    // Orion's text could not be read with certainty; writing the halves
    // again is harmless for this operation and tells who failed.
    split();
    return;
  }
  for (size_t k = 0; k < batch.size(); ++k) {
    std::optional<EntityOutcome>& outcome = attribution.outcomes[k];
    if (!outcome.has_value()) {
      RecordOutcome(job, batch[k], absl::StatusCode::kUnknown,
                    absl::StrCat("broker answered ", status,
                                 " for the batch without naming this entity; "
                                 "not re-sent because the operation is not "
                                 "idempotent"),
                    status, BrokerErrorText(answer->body));
      continue;
    }
    if (outcome->code != absl::StatusCode::kOk &&
        answer->earlier_attempt_may_have_applied) {
      outcome->message += absl::StrCat(
          " (an earlier attempt lost its answer and may have applied this "
          "write already; it was not applied twice)");
    }
    RecordOutcome(job, batch[k], outcome->code, std::move(outcome->message),
                  outcome->http_status, std::move(outcome->broker_error),
                  std::move(outcome->failed_attrs));
  }
}

void BatchWriter::DeleteLdAttributes(WriteJob& job, size_t index) {
  const v1::Entity& entity = job.request.entities(index);
  std::vector<std::string> failed;
  absl::StatusCode code = absl::StatusCode::kOk;
  int last_status = 0;
  std::string last_error;
  for (const auto& [name, attr] : entity.attrs()) {
    if (absl::Now() >= job.deadline) {
      code = absl::StatusCode::kDeadlineExceeded;
      failed.push_back(name);
      continue;
    }
    HttpCall call;
    call.method = "DELETE";
    call.path = absl::StrCat("/ngsi-ld/v1/entities/", UrlEncode(entity.id()),
                             "/attrs/", UrlEncode(name));
    call.headers = job.base_call.headers;
    if (!attr.dataset_id().empty()) {
      call.query = "datasetId=" + UrlEncode(attr.dataset_id());
    }
    ++job.broker_calls;
    absl::StatusOr<HttpAnswer> answer = job.client->Send(call, job.deadline);
    if (!answer.ok()) {
      code = answer.status().code();
      last_error = std::string(answer.status().message());
      failed.push_back(name);
      continue;
    }
    last_status = answer->status;
    if (answer->status / 100 != 2) {
      last_error = BrokerErrorText(answer->body);
      code = CodeForHttpStatus(answer->status, last_error);
      failed.push_back(name);
    }
  }
  RecordOutcome(job, index, code,
                failed.empty() ? "attributes deleted"
                               : absl::StrCat(failed.size(), " of ",
                                              entity.attrs_size(),
                                              " attributes not deleted"),
                last_status, last_error, std::move(failed));
}

bool PassthroughIsIdempotent(absl::string_view method,
                             absl::string_view body) {
  const std::string upper = absl::AsciiStrToUpper(method);
  if (upper != "GET" && upper != "HEAD" && upper != "PUT" &&
      upper != "PATCH" && upper != "DELETE") {
    return false;
  }
  // Orion's update operators that add to what is there: applying them
  // twice is not applying them once. Matched anywhere in the body, so a
  // string value that merely contains one is treated the careful way too.
  for (absl::string_view op : {"\"$inc\"", "\"$mul\"", "\"$push\""}) {
    if (absl::StrContains(body, op)) return false;
  }
  return true;
}

absl::StatusOr<v1::PassthroughResponse> BatchWriter::Passthrough(
    const v1::PassthroughRequest& request, absl::Time deadline) {
  const auto found = clients_.find(request.broker());
  if (found == clients_.end()) {
    return absl::NotFoundError(absl::StrCat(
        "broker '", request.broker(), "' is not configured on this replier"));
  }
  static const char* const kMethods[] = {"GET", "POST", "PUT", "PATCH",
                                         "DELETE"};
  const std::string method = absl::AsciiStrToUpper(request.method());
  bool method_ok = false;
  for (const char* allowed : kMethods) method_ok |= method == allowed;
  if (!method_ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("method '", request.method(), "' is not allowed"));
  }
  const std::string& path = request.path();
  const std::string lower = absl::AsciiStrToLower(path);
  const auto bad_path = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("path '", path, "' ", why));
  };
  if (path.empty() || path[0] != '/') return bad_path("must start with '/'");
  if (absl::StartsWith(path, "//")) {
    return bad_path("must not name a host ('//')");
  }
  if (absl::StrContains(path, "://")) {
    return bad_path("must not be an absolute URL");
  }
  for (absl::string_view segment : absl::StrSplit(path, '/')) {
    if (segment == ".." || segment == ".") {
      return bad_path("must not contain '.' or '..' segments");
    }
  }
  // Encoded dots and separators would be decoded by some servers into a
  // path outside the broker's.
  for (const char* encoded : {"%2e", "%2f", "%5c", "%00"}) {
    if (absl::StrContains(lower, encoded)) {
      return bad_path(absl::StrCat("must not contain '", encoded, "'"));
    }
  }
  for (const char c : path) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7F || c == '\\' || c == '?' || c == '#' ||
        c == '@') {
      return bad_path(
          absl::StrCat("has the disallowed character byte ",
                       static_cast<int>(byte), " (query goes in 'query')"));
    }
  }
  for (const char c : request.query()) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7F || c == '#') {
      return absl::InvalidArgumentError(absl::StrCat(
          "query has the disallowed character byte ", static_cast<int>(byte)));
    }
  }
  OrionClient* client = found->second.get();
  const BrokerConfig& broker = client->config();
  HttpCall call;
  call.method = method;
  call.path = path;
  call.query = request.query();
  bool has_service = false, has_path = false, has_correlator = false;
  for (const auto& [name, value] : request.headers()) {
    const std::string key = absl::AsciiStrToLower(name);
    // Framing and routing stay ours; credentials come from the config.
    if (key == "host" || key == "content-length" || key == "connection" ||
        key == "transfer-encoding" || key == "x-auth-token" ||
        key == "authorization" || key == "accept") {
      continue;
    }
    if (key == "content-type") {
      call.content_type = value;
      continue;
    }
    has_service |= key == "fiware-service" || key == "ngsild-tenant";
    has_path |= key == "fiware-servicepath";
    has_correlator |= key == "fiware-correlator";
    call.headers.emplace_back(name, value);
  }
  if (!has_service && !broker.service.empty()) {
    call.headers.emplace_back(
        broker.flavor == v1::NGSI_LD ? "NGSILD-Tenant" : "Fiware-Service",
        broker.service);
  }
  if (!has_path && !broker.service_path.empty() &&
      broker.flavor == v1::NGSI_V2) {
    call.headers.emplace_back("Fiware-ServicePath", broker.service_path);
  }
  if (!has_correlator) {
    call.headers.emplace_back("Fiware-Correlator", NewCorrelator());
  }
  call.body = request.body();
  if (!call.body.empty() && call.content_type.empty()) {
    call.content_type = "application/json";
  }
  if (call.content_type.empty() &&
      (method == "POST" || method == "PUT" || method == "PATCH")) {
    call.content_type = "application/json";  // Orion wants Content-Length
  }
  // A 5xx, a lost answer or a timeout may come after the broker applied
  // the call: only idempotent calls are sent again then.
  call.retry_after_sent = PassthroughIsIdempotent(method, call.body);
  absl::StatusOr<HttpAnswer> answer = client->Send(call, deadline);
  if (!answer.ok()) return answer.status();
  v1::PassthroughResponse response;
  response.set_status(answer->status);
  for (const auto& [name, value] : answer->headers) {
    (*response.mutable_headers())[absl::AsciiStrToLower(name)] = value;
  }
  response.set_body(std::move(answer->body));
  return response;
}

}  // namespace ngsi_bridge::replier
