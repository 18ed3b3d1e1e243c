#include "receiver-service/notification_parser.h"

#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/ngsi_json.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "receiver-service/attribute_parser.h"
#include "receiver-service/custom_notification.h"
#include "receiver-service/ld_notification.h"
#include "receiver-service/notification_headers.h"
#include "receiver-service/v2_notification.h"

// Detection order: the format headers say what the body is (Orion and
// Orion-LD always send one, except Orion's legacy NGSIv1 and MQTT); then
// the JSON-LD markers (application/ld+json, application/geo+json, a Link
// to a JSON-LD context); and only for bodies nothing announced, the body
// shape. An announced NGSI body that does not parse or lacks its shape is
// an error; an unannounced body that is not NGSI is a CUSTOM event, since
// custom notifications may carry anything.
namespace ngsi_bridge::receiver {
namespace {

using nlohmann::json;

enum class V2Format {
  kUnknown,
  kCustom,
  kNormalized,
  kKeyValues,
  kValues,
  kSimplifiedNormalized,
  kSimplifiedKeyValues,
  kLegacy,
};

V2Format V2FormatOf(const std::optional<std::string>& header) {
  if (!header) return V2Format::kUnknown;
  const absl::string_view name = *header;
  // Orion spells them exactly so; case is forgiven for other senders.
  if (absl::EqualsIgnoreCase(name, "normalized")) return V2Format::kNormalized;
  if (absl::EqualsIgnoreCase(name, "keyValues")) return V2Format::kKeyValues;
  if (absl::EqualsIgnoreCase(name, "custom")) return V2Format::kCustom;
  if (absl::EqualsIgnoreCase(name, "values")) return V2Format::kValues;
  if (absl::EqualsIgnoreCase(name, "simplifiedNormalized")) {
    return V2Format::kSimplifiedNormalized;
  }
  if (absl::EqualsIgnoreCase(name, "simplifiedKeyValues")) {
    return V2Format::kSimplifiedKeyValues;
  }
  if (absl::EqualsIgnoreCase(name, "legacy")) return V2Format::kLegacy;
  return V2Format::kUnknown;
}

enum class Announced { kNothing, kCustom, kV2, kLd };

Announced AnnouncementOf(const NotificationHeaders& headers) {
  const V2Format v2 = V2FormatOf(headers.v2_attrs_format);
  if (v2 == V2Format::kCustom && !headers.ld_attrs_format) {
    return Announced::kCustom;
  }
  if (headers.ld_attrs_format) return Announced::kLd;
  if (v2 != V2Format::kUnknown) return Announced::kV2;
  if (headers.media_type == "application/ld+json" ||
      headers.media_type == "application/geo+json" ||
      headers.has_link_context) {
    return Announced::kLd;
  }
  return Announced::kNothing;
}

// Whether an unannounced body is worth parsing: every NGSI shape is a
// JSON object, and a non-JSON media type means a custom payload.
bool MayBeNgsiJson(absl::string_view body, absl::string_view media_type) {
  if (!media_type.empty() && media_type != "application/json" &&
      !absl::EndsWith(media_type, "+json")) {
    return false;
  }
  for (char c : body) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    return c == '{';
  }
  return false;
}

absl::Status Custom(absl::string_view body, const NotificationHeaders& headers,
                    v1::NgsiEvent* event) {
  // Orion marks its custom notifications; MQTT ones carry no header, and
  // then the flavor is honestly unknown.
  if (headers.v2_attrs_format) event->set_flavor(v1::NGSI_V2);
  return ParseCustomNotification(body, event);
}

absl::Status ReadLd(const json& doc, const NotificationHeaders& headers,
                    const ParseLimits& limits, v1::NgsiEvent* event) {
  v1::Format format = v1::NORMALIZED;
  LdForm form = LdForm::kNormalized;
  if (headers.ld_attrs_format) {
    const absl::string_view name = *headers.ld_attrs_format;
    if (absl::EqualsIgnoreCase(name, "Concise")) {
      format = v1::CONCISE;
      form = LdForm::kConcise;
    } else if (absl::EqualsIgnoreCase(name, "Simplified") ||
               absl::EqualsIgnoreCase(name, "keyValues")) {
      format = v1::SIMPLIFIED;
      form = LdForm::kSimplified;
    }
  } else if (V2FormatOf(headers.v2_attrs_format) == V2Format::kKeyValues) {
    // Orion-LD's legacy notifier names LD formats the NGSIv2 way.
    format = v1::SIMPLIFIED;
    form = LdForm::kSimplified;
  }
  if (headers.media_type == "application/geo+json") format = v1::GEOJSON;
  event->set_flavor(v1::NGSI_LD);
  event->set_format(format);
  return ParseLdNotification(doc, format, form, limits, event);
}

absl::Status ReadV2(const json& doc, v1::Format format,
                    const ParseLimits& limits, v1::NgsiEvent* event) {
  event->set_flavor(v1::NGSI_V2);
  event->set_format(format);
  switch (format) {
    case v1::SIMPLIFIED_NORMALIZED:
    case v1::SIMPLIFIED_KEY_VALUES:
      return ParseV2BareEntity(doc, format, event);
    case v1::LEGACY:
      return ParseV1LegacyNotification(doc, limits, event);
    default:
      return ParseV2Envelope(doc, format, limits, event);
  }
}

// The body of an announced NGSI notification (headers name its format).
absl::Status ReadAnnounced(const json& doc, const NotificationHeaders& headers,
                           const ParseLimits& limits, v1::NgsiEvent* event) {
  if (headers.ld_attrs_format) return ReadLd(doc, headers, limits, event);
  switch (V2FormatOf(headers.v2_attrs_format)) {
    case V2Format::kNormalized:
    case V2Format::kKeyValues:
      // Orion-LD's legacy notifier sends Ngsiv2-AttrsFormat with NGSI-LD
      // bodies; its x-ngsiv2-* formats send real NGSIv2 bodies.
      if (LooksLikeLdNotification(doc)) {
        return ReadLd(doc, headers, limits, event);
      }
      return ReadV2(doc,
                    V2FormatOf(headers.v2_attrs_format) ==
                            V2Format::kNormalized
                        ? v1::NORMALIZED
                        : v1::KEY_VALUES,
                    limits, event);
    case V2Format::kValues:
      return ReadV2(doc, v1::VALUES, limits, event);
    case V2Format::kSimplifiedNormalized:
      return ReadV2(doc, v1::SIMPLIFIED_NORMALIZED, limits, event);
    case V2Format::kSimplifiedKeyValues:
      return ReadV2(doc, v1::SIMPLIFIED_KEY_VALUES, limits, event);
    case V2Format::kLegacy:
      return ReadV2(doc, v1::LEGACY, limits, event);
    case V2Format::kCustom:
    case V2Format::kUnknown:
      break;
  }
  return ReadLd(doc, headers, limits, event);  // announced by JSON-LD media
}

bool IsSecret(absl::string_view lower_name) {
  return lower_name == "authorization" || lower_name == "x-auth-token" ||
         lower_name == "cookie" || lower_name == "proxy-authorization";
}

// Orion-LD's MQTT notifier publishes {"metadata": {<would-be HTTP
// headers>}, "body": <Notification>}; nothing else sends an object of
// exactly these two members with NGSI-LD headers in `metadata`.
bool IsMqttWrapper(const json& doc) {
  if (doc.size() != 2) return false;
  const auto body = doc.find("body");
  const auto metadata = doc.find("metadata");
  if (body == doc.end() || metadata == doc.end() || !body->is_object() ||
      !metadata->is_object()) {
    return false;
  }
  for (auto it = metadata->begin(); it != metadata->end(); ++it) {
    const std::string name = absl::AsciiStrToLower(it.key());
    if (name == "ngsild-attribute-format" || name == "link" ||
        name == "ngsild-tenant") {
      return true;
    }
  }
  return false;
}

absl::Status ReadUnannounced(absl::string_view body, const json& doc,
                             NotificationHeaders* headers,
                             const ParseLimits& limits, bool unwrapped,
                             v1::NgsiEvent* event);

// The metadata act as the headers of the inner body. They are also kept
// verbatim (minus secrets) in extra["metadata"], since their names, case
// and transport members (Host, User-Agent) are part of the payload.
absl::Status ReadMqttWrapper(absl::string_view body, const json& doc,
                             NotificationHeaders* headers,
                             const ParseLimits& limits, v1::NgsiEvent* event) {
  const json& metadata = doc["metadata"];
  google::protobuf::Struct kept;
  for (auto it = metadata.begin(); it != metadata.end(); ++it) {
    if (IsSecret(absl::AsciiStrToLower(it.key()))) continue;
    (*kept.mutable_fields())[it.key()] = common::JsonToValue(it.value());
    if (!it->is_string()) continue;
    NB_RETURN_IF_ERROR(ConsumeNotificationHeader(
        it.key(), it->get_ref<const std::string&>(), headers, event));
  }
  *(*event->mutable_extra())["metadata"].mutable_struct_value() =
      std::move(kept);
  const json& inner = doc["body"];
  switch (AnnouncementOf(*headers)) {
    case Announced::kNothing:
      return ReadUnannounced(body, inner, headers, limits, true, event);
    case Announced::kCustom:
      return Custom(inner.dump(), *headers, event);
    default:
      return ReadAnnounced(inner, *headers, limits, event);
  }
}

// A JSON object body with no format header (MQTT, NGSIv1, other brokers):
// read by shape, CUSTOM when it has none of the NGSI shapes.
absl::Status ReadUnannounced(absl::string_view body, const json& doc,
                             NotificationHeaders* headers,
                             const ParseLimits& limits, bool unwrapped,
                             v1::NgsiEvent* event) {
  if (doc.contains("contextResponses")) {
    return ReadV2(doc, v1::LEGACY, limits, event);
  }
  if (!unwrapped && IsMqttWrapper(doc)) {
    return ReadMqttWrapper(body, doc, headers, limits, event);
  }
  if (LooksLikeLdNotification(doc)) {
    return ReadLd(doc, *headers, limits, event);
  }
  const auto data = doc.find("data");
  if (data != doc.end() && data->is_array()) {
    return ReadV2(
        doc, HasNormalizedV2Attributes(doc) ? v1::NORMALIZED : v1::KEY_VALUES,
        limits, event);
  }
  return Custom(body, *headers, event);
}

absl::Status ReadBody(absl::string_view body, NotificationHeaders* headers,
                      const ParseLimits& limits, v1::NgsiEvent* event) {
  const Announced announced = AnnouncementOf(*headers);
  // Orion sends no body at all for a custom `payload: null`.
  if (body.empty() || announced == Announced::kCustom) {
    return Custom(body, *headers, event);
  }
  const common::JsonLimits json_limits{limits.max_depth};
  if (announced == Announced::kNothing) {
    if (!MayBeNgsiJson(body, headers->media_type)) {
      return Custom(body, *headers, event);
    }
    absl::StatusOr<json> doc = common::ParseJson(body, json_limits);
    if (!doc.ok()) return Custom(body, *headers, event);  // checks UTF-8
    return ReadUnannounced(body, *doc, headers, limits, false, event);
  }
  absl::StatusOr<json> doc = common::ParseJson(body, json_limits);
  if (!doc.ok()) {
    const std::string& name =
        headers->ld_attrs_format   ? *headers->ld_attrs_format
        : headers->v2_attrs_format ? *headers->v2_attrs_format
                                   : headers->media_type;
    return absl::InvalidArgumentError(absl::StrCat(
        name, " notification body: ", doc.status().message()));
  }
  return ReadAnnounced(*doc, *headers, limits, event);
}

absl::Status SetRequestLine(const NotificationRequest& request,
                            v1::NgsiEvent* event) {
  for (const auto& [what, text] :
       {std::pair<const char*, const std::string*>{"method", &request.method},
        {"path", &request.path},
        {"query", &request.query}}) {
    if (absl::Status utf8 = common::ValidateUtf8(*text); !utf8.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("request ", what, ": ", utf8.message()));
    }
  }
  event->set_method(request.method);
  event->set_path(request.path);
  event->set_query(request.query);
  return absl::OkStatus();
}

absl::Status FinishEnvelope(const NotificationRequest& request,
                            const NotificationHeaders& headers,
                            v1::NgsiEvent* event) {
  if (event->subscription_id().empty()) {
    // Orion-LD's native notifier also appends ?subscriptionId= to the URL.
    if (std::optional<std::string> id =
            FindQueryParameter(request.query, "subscriptionId")) {
      if (absl::Status utf8 = common::ValidateUtf8(*id); !utf8.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("subscriptionId query parameter: ", utf8.message()));
      }
      event->set_subscription_id(*std::move(id));
    }
  }
  if (headers.ld_attrs_format) {
    event->set_attrs_format(*headers.ld_attrs_format);
    if (headers.v2_attrs_format) {
      (*event->mutable_headers())["ngsiv2-attrsformat"] =
          *headers.v2_attrs_format;
    }
  } else if (headers.v2_attrs_format) {
    event->set_attrs_format(*headers.v2_attrs_format);
  }
  // An NGSIv2 body from Orion-LD (x-ngsiv2-* formats): the User-Agent is
  // the only sign of the NGSI-LD broker behind it, so it is kept.
  if (event->flavor() == v1::NGSI_V2 &&
      absl::StartsWith(headers.user_agent, "orionld")) {
    (*event->mutable_headers())["user-agent"] = headers.user_agent;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::NgsiEvent> ParseNotification(
    const NotificationRequest& request, const ParseLimits& limits) {
  v1::NgsiEvent event;
  NB_RETURN_IF_ERROR(SetRequestLine(request, &event));
  NotificationHeaders headers;
  for (const auto& [name, value] : request.headers) {
    NB_RETURN_IF_ERROR(
        ConsumeNotificationHeader(name, value, &headers, &event));
  }
  NB_RETURN_IF_ERROR(ReadBody(request.body, &headers, limits, &event));
  NB_RETURN_IF_ERROR(FinishEnvelope(request, headers, &event));
  return event;
}

}  // namespace ngsi_bridge::receiver
