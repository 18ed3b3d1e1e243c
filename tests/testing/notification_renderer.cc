#include "tests/testing/notification_renderer.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "common/ngsi_json.h"
#include "google/protobuf/util/time_util.h"
#include "nlohmann/json.hpp"

namespace ngsi_bridge::testing {
namespace {

namespace v1 = ::ngsi_bridge::v1;
using common::ValueToJson;
using nlohmann::json;
using ValueMap = google::protobuf::Map<std::string, google::protobuf::Value>;

void ApplyExtra(const ValueMap& extra, json* object) {
  for (const auto& [key, value] : extra) (*object)[key] = ValueToJson(value);
}

void SetIfNotEmpty(const char* key, const std::string& value, json* object) {
  if (!value.empty()) (*object)[key] = value;
}

json RenderV2Attribute(const v1::Attribute& attr, bool top_level) {
  if (attr.bare()) return ValueToJson(attr.value());
  json out = json::object();
  SetIfNotEmpty("type", attr.type(), &out);
  if (attr.has_value()) out["value"] = ValueToJson(attr.value());
  if (top_level || attr.metadata_size() > 0) {
    json metadata = json::object();
    for (const auto& [name, item] : attr.metadata()) {
      metadata[name] = RenderV2Attribute(item, false);
    }
    out["metadata"] = std::move(metadata);
  }
  ApplyExtra(attr.extra(), &out);
  return out;
}

json RenderV2Entity(const v1::Entity& entity) {
  if (entity.values_size() > 0 || (!entity.has_id() && !entity.has_type())) {
    json values = json::array();
    for (const auto& value : entity.values()) {
      values.push_back(ValueToJson(value));
    }
    return values;
  }
  json out = json::object();
  if (entity.has_id()) out["id"] = entity.id();
  if (entity.has_type()) out["type"] = entity.type();
  for (const auto& [name, attr] : entity.attrs()) {
    out[name] = RenderV2Attribute(attr, true);
  }
  ApplyExtra(entity.extra(), &out);
  return out;
}

json RenderV1Attribute(const std::string& name, const v1::Attribute& attr) {
  json out = {{"name", name}};
  SetIfNotEmpty("type", attr.type(), &out);
  if (attr.has_value()) out["value"] = ValueToJson(attr.value());
  if (attr.metadata_size() > 0) {
    json metadatas = json::array();
    for (const auto& [item_name, item] : attr.metadata()) {
      metadatas.push_back(RenderV1Attribute(item_name, item));
    }
    out["metadatas"] = std::move(metadatas);
  }
  ApplyExtra(attr.extra(), &out);
  return out;
}

json RenderLegacy(const v1::NgsiEvent& event) {
  json out = {{"subscriptionId", event.subscription_id()}};
  SetIfNotEmpty("originator", event.originator(), &out);
  json responses = json::array();
  for (const auto& entity : event.entities()) {
    json element = {{"id", entity.id()}};
    if (entity.has_type()) element["type"] = entity.type();
    json attributes = json::array();
    for (const auto& [name, attr] : entity.attrs()) {
      attributes.push_back(RenderV1Attribute(name, attr));
    }
    element["attributes"] = std::move(attributes);
    ApplyExtra(entity.extra(), &element);
    json response = json::object();
    for (const auto& [key, value] :
         entity.legacy_status().struct_value().fields()) {
      (key == "isPattern" ? element : response)[key] = ValueToJson(value);
    }
    response["contextElement"] = std::move(element);
    responses.push_back(std::move(response));
  }
  out["contextResponses"] = std::move(responses);
  ApplyExtra(event.extra(), &out);
  return out;
}

json RenderLdAttribute(const v1::Attribute& attr);

json RenderLdAttributeObject(const v1::Attribute& attr) {
  json out = json::object();
  SetIfNotEmpty("type", attr.type(), &out);
  if (attr.has_value()) out["value"] = ValueToJson(attr.value());
  if (attr.has_object()) out["object"] = ValueToJson(attr.object());
  if (attr.has_language_map()) {
    out["languageMap"] = ValueToJson(attr.language_map());
  }
  if (attr.has_vocab()) out["vocab"] = ValueToJson(attr.vocab());
  if (attr.has_json()) out["json"] = ValueToJson(attr.json());
  SetIfNotEmpty("observedAt", attr.observed_at(), &out);
  SetIfNotEmpty("unitCode", attr.unit_code(), &out);
  SetIfNotEmpty("datasetId", attr.dataset_id(), &out);
  SetIfNotEmpty("createdAt", attr.created_at(), &out);
  SetIfNotEmpty("modifiedAt", attr.modified_at(), &out);
  SetIfNotEmpty("deletedAt", attr.deleted_at(), &out);
  SetIfNotEmpty("lang", attr.lang(), &out);
  if (attr.has_previous_value()) {
    out["previousValue"] = ValueToJson(attr.previous_value());
  }
  if (attr.has_previous_object()) {
    out["previousObject"] = ValueToJson(attr.previous_object());
  }
  if (attr.has_previous_language_map()) {
    out["previousLanguageMap"] = ValueToJson(attr.previous_language_map());
  }
  if (attr.has_previous_vocab()) {
    out["previousVocab"] = ValueToJson(attr.previous_vocab());
  }
  if (attr.has_previous_json()) {
    out["previousJson"] = ValueToJson(attr.previous_json());
  }
  for (const auto& [name, sub] : attr.metadata()) {
    out[name] = RenderLdAttribute(sub);
  }
  ApplyExtra(attr.extra(), &out);
  return out;
}

json RenderLdAttribute(const v1::Attribute& attr) {
  if (attr.bare()) return ValueToJson(attr.value());
  if (attr.instances_size() > 0) {
    json instances = json::array();
    for (const auto& instance : attr.instances()) {
      instances.push_back(RenderLdAttributeObject(instance));
    }
    return instances;
  }
  return RenderLdAttributeObject(attr);
}

// Entity members that NGSI-LD puts beside the attributes (in a GeoJSON
// Feature: inside "properties").
void RenderLdEntityMembers(const v1::Entity& entity, json* out) {
  if (entity.has_type()) {
    (*out)["type"] = entity.type();
  } else if (entity.types_size() > 0) {
    (*out)["type"] = json(std::vector<std::string>(entity.types().begin(),
                                                   entity.types().end()));
  }
  SetIfNotEmpty("scope", entity.scope(), out);
  SetIfNotEmpty("createdAt", entity.created_at(), out);
  SetIfNotEmpty("modifiedAt", entity.modified_at(), out);
  SetIfNotEmpty("deletedAt", entity.deleted_at(), out);
  for (const auto& [name, attr] : entity.attrs()) {
    (*out)[name] = RenderLdAttribute(attr);
  }
}

json RenderLdEntity(const v1::Entity& entity) {
  json out = {{"id", entity.id()}};
  RenderLdEntityMembers(entity, &out);
  if (entity.has_context()) out["@context"] = ValueToJson(entity.context());
  ApplyExtra(entity.extra(), &out);
  return out;
}

json RenderFeature(const v1::Entity& entity) {
  json properties = json::object();
  RenderLdEntityMembers(entity, &properties);
  json out = {{"id", entity.id()},
              {"type", "Feature"},
              {"properties", std::move(properties)}};
  if (entity.has_geometry()) out["geometry"] = ValueToJson(entity.geometry());
  if (entity.has_context()) out["@context"] = ValueToJson(entity.context());
  for (const auto& [key, value] : entity.extra()) {
    if (key == "properties.id") {
      out["properties"]["id"] = ValueToJson(value);
    } else {
      out[key] = ValueToJson(value);
    }
  }
  return out;
}

std::string MillisecondUtc(const google::protobuf::Timestamp& time) {
  // TimeUtil drops a zero fraction; Orion-LD always writes milliseconds.
  std::string text = google::protobuf::util::TimeUtil::ToString(time);
  const size_t dot = text.find('.');
  if (dot == std::string::npos) {
    return text.substr(0, text.size() - 1) + ".000Z";
  }
  return text.substr(0, dot + 4) + "Z";
}

json RenderLd(const v1::NgsiEvent& event) {
  json out = json::object();
  SetIfNotEmpty("id", event.notification_id(), &out);
  out["type"] = "Notification";
  SetIfNotEmpty("subscriptionId", event.subscription_id(), &out);
  if (event.has_notified_at()) {
    out["notifiedAt"] = MillisecondUtc(event.notified_at());
  }
  const bool inline_context = absl::StartsWith(
      absl::AsciiStrToLower(event.content_type()), "application/ld+json");
  if (inline_context && event.contexts_size() > 0) {
    out["@context"] = ValueToJson(event.contexts(event.contexts_size() - 1));
  }
  json data;
  if (event.format() == v1::GEOJSON) {
    json features = json::array();
    for (const auto& entity : event.entities()) {
      features.push_back(RenderFeature(entity));
    }
    data = {{"type", "FeatureCollection"}, {"features", std::move(features)}};
  } else {
    data = json::array();
    for (const auto& entity : event.entities()) {
      data.push_back(RenderLdEntity(entity));
    }
  }
  out["data"] = std::move(data);
  json wrapper_metadata;
  for (const auto& [key, value] : event.extra()) {
    if (key == "metadata") {
      wrapper_metadata = ValueToJson(value);
    } else if (key == "data" && event.format() == v1::GEOJSON) {
      for (const auto& [k, v] : value.struct_value().fields()) {
        out["data"][k] = ValueToJson(v);
      }
    } else {
      out[key] = ValueToJson(value);
    }
  }
  if (wrapper_metadata.is_object()) {
    return {{"body", std::move(out)},
            {"metadata", std::move(wrapper_metadata)}};
  }
  return out;
}

}  // namespace

json RenderNotificationBodyForTest(const v1::NgsiEvent& event) {
  if (event.format() == v1::CUSTOM) return event.body();
  if (event.flavor() == v1::NGSI_LD) return RenderLd(event);
  switch (event.format()) {
    case v1::SIMPLIFIED_NORMALIZED:
    case v1::SIMPLIFIED_KEY_VALUES:
      return event.entities_size() == 1 ? RenderV2Entity(event.entities(0))
                                        : json();
    case v1::LEGACY:
      return RenderLegacy(event);
    default:
      break;
  }
  json data = json::array();
  for (const auto& entity : event.entities()) {
    data.push_back(RenderV2Entity(entity));
  }
  json out = {{"subscriptionId", event.subscription_id()},
              {"data", std::move(data)}};
  ApplyExtra(event.extra(), &out);
  return out;
}

}  // namespace ngsi_bridge::testing
