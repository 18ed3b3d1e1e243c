#include "receiver-service/v2_notification.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/ngsi_json.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "receiver-service/attribute_parser.h"

namespace ngsi_bridge::receiver {
namespace {

using nlohmann::json;

const char* FormatName(v1::Format format) {
  switch (format) {
    case v1::KEY_VALUES:
      return "keyValues";
    case v1::VALUES:
      return "values";
    case v1::SIMPLIFIED_NORMALIZED:
      return "simplifiedNormalized";
    case v1::SIMPLIFIED_KEY_VALUES:
      return "simplifiedKeyValues";
    case v1::LEGACY:
      return "legacy";
    default:
      return "normalized";
  }
}

absl::Status CheckEntityCount(size_t count, const char* format,
                              const ParseLimits& limits) {
  if (count <= limits.max_entities) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(format, " notification has ", count,
                   " entities, more than the limit of ", limits.max_entities));
}

// Orion shows an entity deletion only as the alterationType builtin.
bool IsDeletionMarker(const v1::Attribute& attr) {
  return attr.value().string_value() == "entityDelete";
}

absl::Status ParseV2Entity(const json& entity, size_t index, bool normalized,
                           v1::Entity* out) {
  if (!entity.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("entity ", index, " is not an object"));
  }
  bool has_id = false;
  auto& attrs = *out->mutable_attrs();
  for (auto it = entity.begin(); it != entity.end(); ++it) {
    const std::string& key = it.key();
    const json& member = it.value();
    if (key == "id") {
      if (!member.is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat("entity ", index, " \"id\" is not a string"));
      }
      out->set_id(member.get_ref<const std::string&>());
      has_id = true;
    } else if (key == "type") {
      if (!member.is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat("entity ", index, " \"type\" is not a string"));
      }
      out->set_type(member.get_ref<const std::string&>());
    } else {
      v1::Attribute& attr = attrs[key];
      if (normalized) {
        ParseV2Attribute(member, &attr);
      } else {
        SetBareValue(member, &attr);
      }
      if (key == "alterationType" && IsDeletionMarker(attr)) {
        out->set_deleted(true);
      }
    }
  }
  if (!has_id) {
    return absl::InvalidArgumentError(
        absl::StrCat("entity ", index, " has no \"id\""));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseV2Envelope(const json& body, v1::Format format,
                             const ParseLimits& limits, v1::NgsiEvent* event) {
  const char* name = FormatName(format);
  const auto data = body.find("data");  // end() for non-objects
  if (data == body.end() || !data->is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " notification has no \"data\" array"));
  }
  NB_RETURN_IF_ERROR(CheckEntityCount(data->size(), name, limits));
  auto& extra = *event->mutable_extra();
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (it.key() == "data") continue;
    if (it.key() == "subscriptionId") {
      SetStringOrExtra(it.value(), it.key(), event->mutable_subscription_id(),
                       &extra);
    } else {
      extra[it.key()] = common::JsonToValue(it.value());
    }
  }
  auto* entities = event->mutable_entities();
  entities->Reserve(static_cast<int>(data->size()));
  for (size_t i = 0; i < data->size(); ++i) {
    const json& entity = (*data)[i];
    v1::Entity* out = entities->Add();
    if (format == v1::VALUES) {
      // No id, no type, no names: the values in the subscription's order.
      if (!entity.is_array()) {
        return absl::InvalidArgumentError(
            absl::StrCat("values notification entity ", i,
                         " is not an array"));
      }
      for (const json& value : entity) {
        *out->add_values() = common::JsonToValue(value);
      }
    } else {
      NB_RETURN_IF_ERROR(
          ParseV2Entity(entity, i, format == v1::NORMALIZED, out));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseV2BareEntity(const json& body, v1::Format format,
                               v1::NgsiEvent* event) {
  if (!body.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(FormatName(format), " notification is not an object"));
  }
  return ParseV2Entity(body, 0, format == v1::SIMPLIFIED_NORMALIZED,
                       event->add_entities());
}

absl::Status ParseV1LegacyNotification(const json& body,
                                       const ParseLimits& limits,
                                       v1::NgsiEvent* event) {
  const auto responses = body.find("contextResponses");
  if (responses == body.end() || !responses->is_array()) {
    return absl::InvalidArgumentError(
        "legacy notification has no \"contextResponses\" array");
  }
  NB_RETURN_IF_ERROR(CheckEntityCount(responses->size(), "legacy", limits));
  auto& extra = *event->mutable_extra();
  for (auto it = body.begin(); it != body.end(); ++it) {
    const std::string& key = it.key();
    if (key == "contextResponses") continue;
    if (key == "subscriptionId") {
      SetStringOrExtra(it.value(), key, event->mutable_subscription_id(),
                       &extra);
    } else if (key == "originator") {
      SetStringOrExtra(it.value(), key, event->mutable_originator(), &extra);
    } else {
      extra[key] = common::JsonToValue(it.value());
    }
  }
  for (size_t i = 0; i < responses->size(); ++i) {
    const json& response = (*responses)[i];
    const auto element = response.find("contextElement");
    if (element == response.end() || !element->is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "context response ", i, " has no \"contextElement\" object"));
    }
    v1::Entity* entity = event->add_entities();
    // isPattern (of the contextElement) and the rest of the context
    // response (statusCode) together: what NGSIv1 says about the match.
    google::protobuf::Struct status;
    for (auto it = response.begin(); it != response.end(); ++it) {
      if (it.key() == "contextElement") continue;
      (*status.mutable_fields())[it.key()] = common::JsonToValue(it.value());
    }
    bool has_id = false;
    for (auto it = element->begin(); it != element->end(); ++it) {
      const std::string& key = it.key();
      const json& member = it.value();
      if (key == "id" && member.is_string()) {
        entity->set_id(member.get_ref<const std::string&>());
        has_id = true;
      } else if (key == "type" && member.is_string()) {
        entity->set_type(member.get_ref<const std::string&>());
      } else if (key == "isPattern") {
        (*status.mutable_fields())[key] = common::JsonToValue(member);
      } else if (key == "attributes") {
        if (!member.is_array()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "entity ", i, " \"attributes\" is not an array"));
        }
        auto& attrs = *entity->mutable_attrs();
        for (size_t j = 0; j < member.size(); ++j) {
          const json& attr = member[j];
          const auto name = attr.find("name");
          if (name == attr.end() || !name->is_string()) {
            return absl::InvalidArgumentError(absl::StrCat(
                "entity ", i, " attribute ", j, " has no \"name\""));
          }
          const std::string& attr_name = name->get_ref<const std::string&>();
          if (attrs.count(attr_name) != 0) {
            return absl::InvalidArgumentError(absl::StrCat(
                "entity ", i, " attribute \"", attr_name, "\" is repeated"));
          }
          absl::Status parsed = ParseV1Attribute(attr, &attrs[attr_name]);
          if (!parsed.ok()) {
            return absl::InvalidArgumentError(
                absl::StrCat("entity ", i, " attribute \"", attr_name,
                             "\": ", parsed.message()));
          }
        }
      } else {
        (*entity->mutable_extra())[key] = common::JsonToValue(member);
      }
    }
    if (!has_id) {
      return absl::InvalidArgumentError(
          absl::StrCat("entity ", i, " has no \"id\""));
    }
    if (status.fields_size() > 0) {
      *entity->mutable_legacy_status()->mutable_struct_value() =
          std::move(status);
    }
  }
  return absl::OkStatus();
}

bool HasNormalizedV2Attributes(const json& body) {
  const auto data = body.find("data");
  if (data == body.end() || !data->is_array()) return false;
  for (const json& entity : *data) {
    if (!entity.is_object()) return false;
    for (auto it = entity.begin(); it != entity.end(); ++it) {
      if (it.key() == "id" || it.key() == "type") continue;
      const json& attr = it.value();
      if (!attr.is_object() ||
          (!attr.contains("value") && !attr.contains("metadata"))) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace ngsi_bridge::receiver
