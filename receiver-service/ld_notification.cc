#include "receiver-service/ld_notification.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/ngsi_json.h"
#include "common/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "nlohmann/json.hpp"

namespace ngsi_bridge::receiver {
namespace {

using nlohmann::json;

// Orion-LD writes every timestamp as YYYY-MM-DDTHH:MM:SS.mmmZ; only
// another spelling needs its text kept besides the Timestamp.
bool IsMillisecondUtc(const std::string& text) {
  return text.size() == 24 && text[4] == '-' && text[7] == '-' &&
         text[10] == 'T' && text[13] == ':' && text[16] == ':' &&
         text[19] == '.' && text[23] == 'Z';
}

void SetNotifiedAt(const json& member, v1::NgsiEvent* event) {
  if (member.is_string()) {
    const std::string& text = member.get_ref<const std::string&>();
    if (google::protobuf::util::TimeUtil::FromString(
            text, event->mutable_notified_at())) {
      if (IsMillisecondUtc(text)) return;
    } else {
      event->clear_notified_at();
    }
  }
  (*event->mutable_extra())["notifiedAt"] = common::JsonToValue(member);
}

// One member of an entity object (or of a GeoJSON Feature's properties).
absl::Status ParseLdEntityMember(const std::string& key, const json& member,
                                 size_t index, LdForm form, v1::Entity* out,
                                 bool* has_id) {
  ValueMap* extra = out->mutable_extra();
  if (key == "id") {
    if (!member.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("entity ", index, " \"id\" is not a string"));
    }
    out->set_id(member.get_ref<const std::string&>());
    *has_id = true;
  } else if (key == "type") {
    if (member.is_string()) {
      out->set_type(member.get_ref<const std::string&>());
      return absl::OkStatus();
    }
    // Several types: kept as a list, `type` stays unset.
    bool all_strings = member.is_array() && !member.empty();
    if (all_strings) {
      for (const json& type : member) all_strings &= type.is_string();
    }
    if (!all_strings) {
      (*extra)[key] = common::JsonToValue(member);
      return absl::OkStatus();
    }
    for (const json& type : member) {
      out->add_types(type.get_ref<const std::string&>());
    }
  } else if (key == "scope") {
    SetStringOrExtra(member, key, out->mutable_scope(), extra);
  } else if (key == "createdAt") {
    SetStringOrExtra(member, key, out->mutable_created_at(), extra);
  } else if (key == "modifiedAt") {
    SetStringOrExtra(member, key, out->mutable_modified_at(), extra);
  } else if (key == "deletedAt") {
    SetStringOrExtra(member, key, out->mutable_deleted_at(), extra);
    out->set_deleted(true);
  } else if (key == "@context") {
    *out->mutable_context() = common::JsonToValue(member);
  } else {
    ParseLdAttribute(member, form, &(*out->mutable_attrs())[key]);
  }
  return absl::OkStatus();
}

absl::Status ParseLdEntity(const json& entity, size_t index, LdForm form,
                           v1::Entity* out) {
  if (!entity.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("entity ", index, " is not an object"));
  }
  bool has_id = false;
  for (auto it = entity.begin(); it != entity.end(); ++it) {
    NB_RETURN_IF_ERROR(
        ParseLdEntityMember(it.key(), it.value(), index, form, out, &has_id));
  }
  if (!has_id) {
    return absl::InvalidArgumentError(
        absl::StrCat("entity ", index, " has no \"id\""));
  }
  return absl::OkStatus();
}

// {"id", "type":"Feature", "geometry", "properties":{"type", attrs...},
// "@context"}: the entity type and attributes live in `properties`.
absl::Status ParseGeoJsonFeature(const json& feature, size_t index,
                                 LdForm form, v1::Entity* out) {
  if (!feature.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("feature ", index, " is not an object"));
  }
  bool has_id = false;
  ValueMap* extra = out->mutable_extra();
  for (auto it = feature.begin(); it != feature.end(); ++it) {
    const std::string& key = it.key();
    const json& member = it.value();
    if (key == "id" || key == "@context") {
      NB_RETURN_IF_ERROR(
          ParseLdEntityMember(key, member, index, form, out, &has_id));
    } else if (key == "geometry") {
      *out->mutable_geometry() = common::JsonToValue(member);
    } else if (key == "type" && member == "Feature") {
      continue;  // implied by the format
    } else if (key == "properties" && member.is_object()) {
      for (auto p = member.begin(); p != member.end(); ++p) {
        if (p.key() == "id") {  // not a GeoJSON member: keep it apart
          (*extra)["properties.id"] = common::JsonToValue(p.value());
          continue;
        }
        NB_RETURN_IF_ERROR(ParseLdEntityMember(p.key(), p.value(), index,
                                               form, out, &has_id));
      }
    } else {
      (*extra)[key] = common::JsonToValue(member);
    }
  }
  if (!has_id) {
    return absl::InvalidArgumentError(
        absl::StrCat("feature ", index, " has no \"id\""));
  }
  return absl::OkStatus();
}

absl::Status CheckEntityCount(size_t count, const ParseLimits& limits) {
  if (count <= limits.max_entities) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("NGSI-LD notification has ", count,
                   " entities, more than the limit of ", limits.max_entities));
}

absl::Status ParseEntities(const json& data, v1::Format format, LdForm form,
                           const ParseLimits& limits, v1::NgsiEvent* event) {
  auto* entities = event->mutable_entities();
  if (format != v1::GEOJSON) {
    if (!data.is_array()) {
      return absl::InvalidArgumentError(
          "NGSI-LD notification has no \"data\" array");
    }
    NB_RETURN_IF_ERROR(CheckEntityCount(data.size(), limits));
    entities->Reserve(static_cast<int>(data.size()));
    for (size_t i = 0; i < data.size(); ++i) {
      NB_RETURN_IF_ERROR(ParseLdEntity(data[i], i, form, entities->Add()));
    }
    return absl::OkStatus();
  }
  const auto features = data.find("features");
  if (features == data.end() || !features->is_array()) {
    return absl::InvalidArgumentError(
        "GeoJSON notification has no \"data\" FeatureCollection");
  }
  NB_RETURN_IF_ERROR(CheckEntityCount(features->size(), limits));
  // Members of the FeatureCollection other than type and features.
  google::protobuf::Struct collection_extra;
  for (auto it = data.begin(); it != data.end(); ++it) {
    if (it.key() == "features" ||
        (it.key() == "type" && it.value() == "FeatureCollection")) {
      continue;
    }
    (*collection_extra.mutable_fields())[it.key()] =
        common::JsonToValue(it.value());
  }
  if (collection_extra.fields_size() > 0) {
    *(*event->mutable_extra())["data"].mutable_struct_value() =
        std::move(collection_extra);
  }
  entities->Reserve(static_cast<int>(features->size()));
  for (size_t i = 0; i < features->size(); ++i) {
    NB_RETURN_IF_ERROR(
        ParseGeoJsonFeature((*features)[i], i, form, entities->Add()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseLdNotification(const json& body, v1::Format format,
                                 LdForm form, const ParseLimits& limits,
                                 v1::NgsiEvent* event) {
  if (!body.is_object()) {
    return absl::InvalidArgumentError("NGSI-LD notification is not an object");
  }
  const auto data = body.find("data");
  if (data == body.end()) {
    return absl::InvalidArgumentError(
        format == v1::GEOJSON
            ? "GeoJSON notification has no \"data\" FeatureCollection"
            : "NGSI-LD notification has no \"data\" array");
  }
  auto& extra = *event->mutable_extra();
  for (auto it = body.begin(); it != body.end(); ++it) {
    const std::string& key = it.key();
    const json& member = it.value();
    if (key == "data") continue;
    if (key == "id") {
      SetStringOrExtra(member, key, event->mutable_notification_id(), &extra);
    } else if (key == "type" && member == "Notification") {
      continue;  // implied by the flavor
    } else if (key == "subscriptionId") {
      SetStringOrExtra(member, key, event->mutable_subscription_id(), &extra);
    } else if (key == "notifiedAt") {
      SetNotifiedAt(member, event);
    } else if (key == "@context") {
      *event->add_contexts() = common::JsonToValue(member);
    } else {
      extra[key] = common::JsonToValue(member);
    }
  }
  return ParseEntities(*data, format, form, limits, event);
}

bool LooksLikeLdNotification(const json& body) {
  if (!body.is_object()) return false;
  const auto type = body.find("type");
  if (type != body.end() && *type == "Notification") return true;
  if (body.contains("@context") || body.contains("notifiedAt")) return true;
  // An envelope without those: NGSI-LD if an attribute of the first entity
  // is typed the NGSI-LD way (NGSIv2 types are free text, but these are
  // not what Orion users call theirs).
  const auto data = body.find("data");
  if (data == body.end() || !data->is_array() || data->empty()) return false;
  const json& entity = data->front();
  if (!entity.is_object()) return false;
  for (auto it = entity.begin(); it != entity.end(); ++it) {
    const auto attr_type = it->find("type");
    if (attr_type == it->end() || !attr_type->is_string()) continue;
    const std::string& name = attr_type->get_ref<const std::string&>();
    if (name == "Property" || name == "Relationship" ||
        name == "GeoProperty" || name == "LanguageProperty") {
      return !it->contains("metadata");  // NGSIv2 always sends metadata
    }
  }
  return false;
}

}  // namespace ngsi_bridge::receiver
