#include "receiver-service/backfill.h"

#include <algorithm>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/ngsi_json.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "receiver-service/ld_notification.h"
#include "receiver-service/v2_notification.h"

namespace ngsi_bridge::receiver {
namespace {

using json = nlohmann::json;

std::string QueryFor(const SubscriptionSpec& spec,
                     const EntitySelector& selector, absl::Time since,
                     int limit, int64_t offset) {
  std::vector<std::string> params;
  if (!selector.id.empty()) params.push_back("id=" + UrlEncode(selector.id));
  if (!selector.id_pattern.empty()) {
    params.push_back("idPattern=" + UrlEncode(selector.id_pattern));
  }
  if (!selector.type.empty()) {
    params.push_back("type=" + UrlEncode(selector.type));
  }
  const std::string iso = BrokerIsoTime(since);
  std::vector<std::string> attrs = spec.notified_attrs;
  if (spec.flavor == v1::NGSI_LD) {
    params.push_back("q=" + UrlEncode("modifiedAt>" + iso));
  } else {
    params.push_back("q=" + UrlEncode("dateModified>" + iso));
    // Orion shows builtins only when named among the attrs ("*" keeps
    // every user attribute): dateModified says when, servicePath where (a
    // notification carries it as a header; a query only this way).
    if (attrs.empty()) attrs.push_back("*");
    attrs.push_back("dateModified");
    attrs.push_back("servicePath");
  }
  if (!attrs.empty()) {
    params.push_back("attrs=" + UrlEncode(absl::StrJoin(attrs, ",")));
  }
  params.push_back(absl::StrCat("limit=", limit));
  params.push_back(absl::StrCat("offset=", offset));
  return absl::StrJoin(params, "&");
}

// Moves the builtin servicePath we asked for out of the attributes into
// the event (unless the subscription notifies it as an attribute itself).
void TakeServicePath(const SubscriptionSpec& spec, v1::NgsiEvent* event) {
  std::string path = spec.service_path.empty() ? "/" : spec.service_path;
  v1::Entity* entity = event->mutable_entities(0);
  const auto it = entity->attrs().find("servicePath");
  if (it != entity->attrs().end() && it->second.value().has_string_value()) {
    path = it->second.value().string_value();
    const auto& notified = spec.notified_attrs;
    if (std::find(notified.begin(), notified.end(), "servicePath") ==
        notified.end()) {
      entity->mutable_attrs()->erase("servicePath");
    }
  }
  event->set_service_path(path);
}

}  // namespace

std::string BrokerIsoTime(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
}

Backfiller::Backfiller(const Options& options, BrokerTransport* transport,
                       EventLog* log, EventHub* hub,
                       const absl::Notification* cancel)
    : options_(options),
      transport_(transport),
      log_(log),
      hub_(hub),
      cancel_(cancel) {}

absl::StatusOr<int64_t> Backfiller::Run(const SubscriptionSpec& spec,
                                        absl::string_view subscription_id,
                                        absl::Time since) {
  const bool ld = spec.flavor == v1::NGSI_LD;
  const std::string path = ld ? "/ngsi-ld/v1/entities" : "/v2/entities";
  // Two selectors may match one entity: it is appended once.
  std::set<std::pair<std::string, std::string>> seen;
  int64_t appended = 0;
  for (const EntitySelector& selector : spec.entities) {
    for (int64_t offset = 0;; offset += options_.page_size) {
      if (cancel_ != nullptr && cancel_->HasBeenNotified()) {
        return absl::CancelledError("backfill stopped: shutting down");
      }
      BrokerRequest request;
      request.path = path;
      request.query =
          QueryFor(spec, selector, since, options_.page_size, offset);
      request.headers = BrokerCallHeaders(spec);
      NB_ASSIGN_OR_RETURN(BrokerResponse response,
                          transport_->Send(spec.broker_url, request));
      if (response.status == 404 && !ld) break;  // Orion: no such type
      if (response.status != 200) {
        return absl::UnavailableError(absl::StrCat(
            "backfill query ", path, "?", request.query, " answered ",
            response.status, ": ", response.body.substr(0, 200)));
      }
      NB_ASSIGN_OR_RETURN(json page, common::ParseJson(response.body));
      if (!page.is_array()) {
        return absl::InvalidArgumentError(
            absl::StrCat("backfill query ", path, " did not answer a list"));
      }
      for (json& entity : page) {
        const std::string id =
            entity.is_object() && entity.value("id", json()).is_string()
                ? entity["id"].get<std::string>()
                : "";
        const std::string type =
            entity.is_object() && entity.value("type", json()).is_string()
                ? entity["type"].get<std::string>()
                : "";
        if (!seen.emplace(id, type).second) continue;
        if (appended >= options_.max_entities) {
          return absl::ResourceExhaustedError(absl::StrCat(
              "backfill of '", spec.name, "' stopped after ",
              options_.max_entities, " entities"));
        }
        v1::NgsiEvent event;
        json envelope = {{"subscriptionId", std::string(subscription_id)},
                         {"data", json::array({std::move(entity)})}};
        if (ld) {
          NB_RETURN_IF_ERROR(ParseLdNotification(
              envelope, v1::NORMALIZED, LdForm::kNormalized, {}, &event));
          event.set_flavor(v1::NGSI_LD);
          if (!spec.ld_context.empty()) {
            event.add_contexts()->set_string_value(spec.ld_context);
          }
        } else {
          NB_RETURN_IF_ERROR(
              ParseV2Envelope(envelope, v1::NORMALIZED, {}, &event));
          event.set_flavor(v1::NGSI_V2);
          TakeServicePath(spec, &event);
        }
        event.set_subscription_id(std::string(subscription_id));
        event.set_service(spec.service);
        event.set_format(v1::NORMALIZED);
        event.set_backfill(true);
        std::shared_ptr<const NotificationRequest> kept;
        if (options_.keep_request) {
          // What the broker would have sent, for the fpc and body lines.
          auto synthetic = std::make_shared<NotificationRequest>();
          synthetic->method = "POST";
          synthetic->path = "/backfill";
          // Tenant headers only: the spec's own headers are credentials.
          if (!spec.service.empty()) {
            synthetic->headers.emplace_back(
                ld ? "NGSILD-Tenant" : "Fiware-Service", spec.service);
          }
          if (!ld) {
            synthetic->headers.emplace_back("Fiware-ServicePath",
                                            event.service_path());
          }
          synthetic->headers.emplace_back("Content-Type", "application/json");
          synthetic->body = envelope.dump();
          kept = std::move(synthetic);
        }
        NB_ASSIGN_OR_RETURN(std::shared_ptr<const LogRecord> record,
                            log_->Append(std::move(event), std::move(kept)));
        hub_->Publish(record);
        ++appended;
      }
      if (static_cast<int64_t>(page.size()) < options_.page_size) break;
    }
  }
  return appended;
}

}  // namespace ngsi_bridge::receiver
