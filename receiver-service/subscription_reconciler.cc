#include "receiver-service/subscription_reconciler.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/ngsi_json.h"
#include "nlohmann/json.hpp"

namespace ngsi_bridge::receiver {

using json = nlohmann::json;

struct SubscriptionReconciler::Group {
  std::string broker_url;
  v1::Flavor flavor = v1::NGSI_V2;
  std::string service;
  BrokerHeaders list_headers;  // tenancy and credentials for listing
  // Empty for a placement remembered from an earlier run whose names all
  // left the file: listed only to prune.
  std::vector<const SubscriptionSpec*> specs;
};

namespace {

constexpr int kListPageSize = 100;

std::string SubscriptionsPath(v1::Flavor flavor) {
  return flavor == v1::NGSI_LD ? "/ngsi-ld/v1/subscriptions"
                               : "/v2/subscriptions";
}

std::string StringMember(const json& doc, const char* key) {
  const auto it = doc.find(key);  // end() for non-objects
  return it != doc.end() && it->is_string() ? it->get<std::string>() : "";
}

int64_t IntMember(const json& doc, const char* key) {
  const auto it = doc.find(key);
  return it != doc.end() && it->is_number() ? it->get<int64_t>() : 0;
}

// The broker's word for a subscription's health, both flavors.
std::string StatusOf(v1::Flavor flavor, const json& sub) {
  std::string status = StringMember(sub, "status");
  if (flavor == v1::NGSI_LD) {
    const auto active = sub.find("isActive");
    if (active != sub.end() && active->is_boolean() && !active->get<bool>() &&
        (status.empty() || status == "active")) {
      status = "paused";
    }
  }
  return status.empty() ? "active" : status;
}

void FillBrokerState(v1::Flavor flavor, const json& sub,
                     SubscriptionState* state) {
  state->id = StringMember(sub, "id");
  state->status = StatusOf(flavor, sub);
  const auto found = sub.find("notification");
  const json notification =
      found != sub.end() && found->is_object() ? *found : json::object();
  state->times_sent = IntMember(notification, "timesSent");
  state->failures = IntMember(
      notification, flavor == v1::NGSI_LD ? "consecutiveErrors"
                                          : "failsCounter");
  state->last_notification = StringMember(notification, "lastNotification");
  state->last_success = StringMember(notification, "lastSuccess");
  state->last_failure = StringMember(notification, "lastFailure");
  state->last_failure_reason = StringMember(
      notification,
      flavor == v1::NGSI_LD ? "lastErrorReason" : "lastFailureReason");
}

// The id at the end of a Location header ("/v2/subscriptions/<id>").
std::string IdFromLocation(const std::string& location) {
  const size_t slash = location.rfind('/');
  return slash == std::string::npos ? location : location.substr(slash + 1);
}

absl::StatusOr<BrokerResponse> Call(BrokerTransport* transport,
                                    const std::string& base_url,
                                    BrokerRequest request) {
  absl::StatusOr<BrokerResponse> response =
      transport->Send(base_url, request);
  if (!response.ok()) return response.status();
  if (response->status < 200 || response->status >= 300) {
    return absl::UnavailableError(absl::StrCat(
        request.method, " ", request.path, " answered ", response->status,
        ": ", response->body.substr(0, 300)));
  }
  return response;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SubscriptionReconciler>>
SubscriptionReconciler::Create(const Options& options,
                               BrokerTransport* transport, EventLog* log,
                               EventHub* hub, SubscriptionStatusBoard* board,
                               common::MetricsRegistry* metrics) {
  for (const SubscriptionSpec& spec : options.specs) {
    if (spec.callback_url.empty() && options.callback_url.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "subscription '", spec.name,
          "' has no callback_url and --callback_url is not set"));
    }
  }
  absl::StatusOr<std::unique_ptr<BackfillWatermarks>> watermarks =
      BackfillWatermarks::Open(options.state_file);
  if (!watermarks.ok()) return watermarks.status();
  return std::unique_ptr<SubscriptionReconciler>(new SubscriptionReconciler(
      options, transport, log, hub, board, metrics, *std::move(watermarks)));
}

SubscriptionReconciler::SubscriptionReconciler(
    const Options& options, BrokerTransport* transport, EventLog* log,
    EventHub* hub, SubscriptionStatusBoard* board,
    common::MetricsRegistry* metrics,
    std::unique_ptr<BackfillWatermarks> watermarks)
    : options_(options),
      transport_(transport),
      board_(board),
      metrics_(metrics),
      watermarks_(std::move(watermarks)),
      backfiller_(options.backfill_options, transport, log, hub, &stop_) {
  std::vector<std::string> names;
  for (const SubscriptionSpec& spec : options_.specs) {
    names.push_back(spec.name);
    SubscriptionState state;
    state.name = spec.name;
    state.broker_url = spec.broker_url;
    state.flavor = spec.flavor == v1::NGSI_LD ? "ld" : "v2";
    state.service = spec.service;
    state.service_path = spec.service_path;
    board_->Update(state);
  }
  board_->Retain(names);
}

SubscriptionReconciler::~SubscriptionReconciler() { Shutdown(); }

absl::Status SubscriptionReconciler::Start() {
  if (started_) return absl::OkStatus();
  started_ = true;
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void SubscriptionReconciler::Shutdown() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

void SubscriptionReconciler::Run() {
  do {
    const ReconcileSummary summary = ReconcileOnce();
    // Each change was logged on its own; the summary only when something
    // happened, so a quiet receiver's log stays quiet.
    if (summary.changes() == 0 && summary.errors == 0 &&
        summary.backfilled_entities == 0) {
      continue;
    }
    common::LogInfo(
        "subscriptions reconciled",
        {{"created", int64_t{summary.created}},
         {"updated", int64_t{summary.updated}},
         {"reactivated", int64_t{summary.reactivated}},
         {"deleted", int64_t{summary.deleted}},
         {"unchanged", int64_t{summary.unchanged}},
         {"errors", int64_t{summary.errors}},
         {"backfilled_entities", summary.backfilled_entities}});
  } while (!stop_.WaitForNotificationWithTimeout(options_.interval));
}

void SubscriptionReconciler::CountChange(absl::string_view action) {
  metrics_
      ->GetCounter("ngsi_receiver_subscription_changes_total",
                   "Changes the reconciler made at brokers, by action.",
                   {{"action", std::string(action)}})
      .Increment();
}

ReconcileSummary SubscriptionReconciler::ReconcileOnce() {
  // Subscriptions are listed per broker and tenant: group the specs so
  // each listing is fetched once.
  std::map<std::tuple<std::string, int, std::string>, Group> groups;
  for (const SubscriptionSpec& spec : options_.specs) {
    Group& group = groups[{spec.broker_url, spec.flavor, spec.service}];
    group.broker_url = spec.broker_url;
    group.flavor = spec.flavor;
    group.service = spec.service;
    if (group.specs.empty()) group.list_headers = BrokerCallHeaders(spec);
    group.specs.push_back(&spec);
  }
  if (options_.prune) {
    // A broker or tenant the file no longer names may still hold ours.
    for (const SubscriptionPlacement& placement : watermarks_->Placements()) {
      SubscriptionSpec where;
      where.broker_url = placement.broker_url;
      where.flavor = placement.flavor == "ld" ? v1::NGSI_LD : v1::NGSI_V2;
      where.service = placement.service;
      const auto key = std::make_tuple(where.broker_url,
                                       static_cast<int>(where.flavor),
                                       where.service);
      if (groups.count(key)) continue;
      Group& group = groups[key];
      group.broker_url = where.broker_url;
      group.flavor = where.flavor;
      group.service = where.service;
      group.list_headers = BrokerCallHeaders(where);
    }
  }
  ReconcileSummary summary;
  for (const auto& [key, group] : groups) ReconcileGroup(group, &summary);
  first_pass_ = false;
  if (absl::Status saved = watermarks_->Save(); !saved.ok()) {
    common::LogError("cannot save subscription state",
                     {{"error", saved.ToString()}});
  }
  metrics_
      ->GetCounter("ngsi_receiver_subscription_passes_total",
                   "Reconcile passes, by outcome.",
                   {{"outcome", summary.errors ? "error" : "ok"}})
      .Increment();
  return summary;
}

void SubscriptionReconciler::ReconcileGroup(const Group& group,
                                            ReconcileSummary* summary) {
  const std::string path = SubscriptionsPath(group.flavor);
  const absl::Time pass_start = absl::Now();

  // Every subscription of this broker and tenant, page by page.
  std::vector<json> listed;
  absl::Status list_status;
  for (int offset = 0;; offset += kListPageSize) {
    BrokerRequest request;
    request.path = path;
    request.query = absl::StrCat("limit=", kListPageSize, "&offset=", offset);
    request.headers = group.list_headers;
    absl::StatusOr<BrokerResponse> response =
        Call(transport_, group.broker_url, request);
    absl::StatusOr<json> page =
        response.ok() ? common::ParseJson(response->body)
                      : absl::StatusOr<json>(response.status());
    if (page.ok() && !page->is_array()) {
      page = absl::InvalidArgumentError("subscription list is not an array");
    }
    if (!page.ok()) {
      list_status = page.status();
      break;
    }
    for (json& sub : *page) listed.push_back(std::move(sub));
    if (page->size() < static_cast<size_t>(kListPageSize)) break;
  }
  if (!list_status.ok()) {
    common::LogWarning("cannot list subscriptions",
                       {{"broker", group.broker_url},
                        {"service", group.service},
                        {"error", list_status.ToString()}});
    for (const SubscriptionSpec* spec : group.specs) {
      std::vector<SubscriptionState> all = board_->Snapshot();
      SubscriptionState state;
      for (const SubscriptionState& s : all) {
        if (s.name == spec->name) state = s;
      }
      state.status = "unknown";
      state.last_action = "error";
      state.last_error = list_status.ToString();
      state.checked_at = pass_start;
      board_->Update(state);
      ++summary->errors;
    }
    return;
  }

  // Ours, by name; a second one with the same marker is a duplicate (a
  // create whose answer was lost) and notifies twice: it goes.
  std::map<std::string, const json*> ours;
  std::set<std::string> declared;
  for (const SubscriptionSpec* spec : group.specs) declared.insert(spec->name);
  for (const json& sub : listed) {
    const std::optional<std::string> owner =
        OwnerFromDescription(StringMember(sub, "description"));
    if (!owner.has_value()) continue;
    const std::string id = StringMember(sub, "id");
    const bool duplicate = ours.count(*owner) > 0;
    if (!duplicate && declared.count(*owner)) {
      ours[*owner] = &sub;
      continue;
    }
    if (!duplicate && !options_.prune) {
      if (reported_orphans_.insert(id).second) {
        common::LogInfo("subscription left the file; kept (no "
                        "--prune_subscriptions)",
                        {{"name", *owner}, {"id", id},
                         {"broker", group.broker_url}});
      }
      continue;
    }
    BrokerRequest request;
    request.method = "DELETE";
    request.path = absl::StrCat(path, "/", id);
    request.headers = group.list_headers;
    absl::StatusOr<BrokerResponse> deleted =
        Call(transport_, group.broker_url, request);
    if (deleted.ok()) {
      ++summary->deleted;
      CountChange("deleted");
      if (!duplicate) watermarks_->Forget(*owner);
      common::LogInfo("subscription deleted",
                      {{"name", *owner}, {"id", id},
                       {"reason", duplicate ? "duplicate" : "left the file"},
                       {"broker", group.broker_url}});
    } else {
      ++summary->errors;
      common::LogWarning("cannot delete subscription",
                         {{"name", *owner}, {"id", id},
                          {"error", deleted.status().ToString()}});
    }
  }

  for (const SubscriptionSpec* spec : group.specs) {
    if (stop_.HasBeenNotified()) return;  // shutting down
    const std::string callback =
        spec->callback_url.empty() ? options_.callback_url : spec->callback_url;
    SubscriptionState state;
    state.name = spec->name;
    state.broker_url = spec->broker_url;
    state.flavor = group.flavor == v1::NGSI_LD ? "ld" : "v2";
    state.service = spec->service;
    state.service_path = spec->service_path;
    for (const SubscriptionState& s : board_->Snapshot()) {
      if (s.name == spec->name) {
        state.backfilled_entities = s.backfilled_entities;
        state.backfilled_since = s.backfilled_since;
      }
    }
    state.checked_at = pass_start;
    const BrokerHeaders headers = BrokerCallHeaders(*spec);
    json desired = DesiredSubscriptionJson(*spec, callback);
    bool created = false;
    bool failing = false;
    absl::Status status;

    const auto found = ours.find(spec->name);
    if (found == ours.end()) {
      BrokerRequest request;
      request.method = "POST";
      request.path = path;
      request.headers = headers;
      request.content_type = "application/json";
      request.body = desired.dump();
      absl::StatusOr<BrokerResponse> response =
          Call(transport_, spec->broker_url, request);
      if (response.ok()) {
        created = true;
        state.id = IdFromLocation(response->Header("Location"));
        state.status = "active";
        state.last_action = "created";
        ++summary->created;
        CountChange("created");
        common::LogInfo("subscription created",
                        {{"name", spec->name}, {"id", state.id},
                         {"broker", spec->broker_url},
                         {"callback_url", callback}});
      } else {
        status = response.status();
      }
    } else {
      const json& actual = *found->second;
      FillBrokerState(group.flavor, actual, &state);
      const std::vector<std::string> drift =
          FindDrift(*spec, callback, actual);
      // An expiry the file asks for is not a failure to repair: the broker
      // keeps it "expired" until the file changes.
      const bool expired_as_declared =
          state.status == "expired" && !spec->expires.empty() &&
          std::find(drift.begin(), drift.end(),
                    group.flavor == v1::NGSI_LD ? "expiresAt" : "expires") ==
              drift.end();
      failing = state.status != "active" && !expired_as_declared;
      // A failure since the watermark (even one the broker recovered from:
      // Orion never re-sends a failed notification) means a gap.
      const std::optional<absl::Time> mark = watermarks_->Get(spec->name);
      const bool failed_since_mark =
          mark.has_value() && !state.last_failure.empty() &&
          BrokerTimeToSeconds(state.last_failure) >=
              absl::ToDoubleSeconds(*mark - absl::UnixEpoch());
      if (drift.empty() && !failing) {
        state.last_action = "unchanged";
        ++summary->unchanged;
      } else {
        json patch = SubscriptionPatchJson(*spec, callback, drift);
        if (failing) {
          if (group.flavor == v1::NGSI_LD) {
            patch["isActive"] = true;
          } else {
            patch["status"] = "active";
          }
        }
        BrokerRequest request;
        request.method = "PATCH";
        request.path = absl::StrCat(path, "/", state.id);
        request.headers = headers;
        request.content_type = "application/json";
        request.body = patch.dump();
        absl::StatusOr<BrokerResponse> response =
            Call(transport_, spec->broker_url, request);
        if (response.ok()) {
          const std::string previous = state.status;
          state.status = "active";
          if (failing) {
            state.last_action = "reactivated";
            ++summary->reactivated;
            CountChange("reactivated");
            common::LogInfo("subscription reactivated",
                            {{"name", spec->name}, {"id", state.id},
                             {"previous_status", previous},
                             {"failures", state.failures},
                             {"last_failure_reason",
                              state.last_failure_reason}});
          } else {
            state.last_action = "updated";
          }
          if (!drift.empty()) {
            if (!failing) {
              ++summary->updated;
              CountChange("updated");
            }
            common::LogInfo("subscription updated",
                            {{"name", spec->name}, {"id", state.id},
                             {"drifted", absl::StrJoin(drift, ",")}});
          }
        } else {
          status = response.status();
        }
      }
      failing = failing || failed_since_mark;
    }

    // Backfill after the subscription is active again, so that a change
    // made while the query runs arrives live (perhaps also backfilled)
    // rather than falling in between.
    const std::optional<absl::Time> mark = watermarks_->Get(spec->name);
    if (status.ok()) {
      const bool gap = first_pass_ || failing || created;
      if (options_.backfill && mark.has_value() && gap) {
        const absl::Time since = *mark - options_.backfill_overlap;
        absl::StatusOr<int64_t> count =
            backfiller_.Run(*spec, state.id, since);
        if (count.ok()) {
          state.backfilled_entities += *count;
          state.backfilled_since = BrokerIsoTime(since);
          summary->backfilled_entities += *count;
          common::LogInfo("backfill done",
                          {{"name", spec->name}, {"id", state.id},
                           {"since", BrokerIsoTime(since)},
                           {"entities", *count}});
          watermarks_->Set(spec->name, pass_start);
        } else {
          // The watermark stays: the next pass tries the same window.
          status = count.status();
        }
      } else {
        watermarks_->Set(spec->name, pass_start);
      }
    }
    if (status.ok()) {
      watermarks_->SetPlacement(spec->name, {spec->broker_url, state.flavor,
                                             spec->service});
    } else {
      ++summary->errors;
      state.last_action = "error";
      state.last_error = status.ToString();
      if (state.id.empty()) state.status = "missing";
      common::LogWarning("cannot reconcile subscription",
                         {{"name", spec->name},
                          {"broker", spec->broker_url},
                          {"error", status.ToString()}});
    }
    board_->Update(state);
  }
}

}  // namespace ngsi_bridge::receiver
