#include "receiver-service/attribute_parser.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/ngsi_json.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace ngsi_bridge::receiver {
namespace {

using nlohmann::json;

bool IsLdAttributeType(const std::string& type) {
  return type == "Property" || type == "Relationship" ||
         type == "GeoProperty" || type == "LanguageProperty" ||
         type == "VocabularyProperty" || type == "VocabProperty" ||
         type == "JsonProperty" || type == "ListProperty" ||
         type == "ListRelationship";
}

// Concise drops "type", so an object is an attribute only when it carries
// a member that only attributes have; otherwise it is a bare object value
// (a GeoJSON geometry's own "type":"Point" must not make it one).
bool LooksLikeConciseAttribute(const json& object) {
  for (const char* key : {"value", "object", "languageMap", "vocab", "json",
                          "valueList", "objectList"}) {
    if (object.contains(key)) return true;
  }
  const auto type = object.find("type");
  return type != object.end() && type->is_string() &&
         IsLdAttributeType(type->get_ref<const std::string&>());
}

// NGSI-LD keywords that are never sub-properties even in concise form.
bool IsLdKeyword(const std::string& key) {
  return (!key.empty() && key[0] == '@') || key == "objectType" ||
         key == "valueType" || key == "entityType" || key == "valueList" ||
         key == "objectList";
}

void SetValue(const json& json, google::protobuf::Value* value) {
  *value = common::JsonToValue(json);
}

void ParseLdAttributeObject(const json& object, LdForm form,
                            v1::Attribute* attr) {
  ValueMap* extra = attr->mutable_extra();
  for (auto it = object.begin(); it != object.end(); ++it) {
    const std::string& key = it.key();
    const json& member = it.value();
    // Ordered by how often brokers send them.
    if (key == "type") {
      SetStringOrExtra(member, key, attr->mutable_type(), extra);
    } else if (key == "value") {
      SetValue(member, attr->mutable_value());
    } else if (key == "object") {
      SetValue(member, attr->mutable_object());
    } else if (key == "observedAt") {
      SetStringOrExtra(member, key, attr->mutable_observed_at(), extra);
    } else if (key == "unitCode") {
      SetStringOrExtra(member, key, attr->mutable_unit_code(), extra);
    } else if (key == "datasetId") {
      SetStringOrExtra(member, key, attr->mutable_dataset_id(), extra);
    } else if (key == "createdAt") {
      SetStringOrExtra(member, key, attr->mutable_created_at(), extra);
    } else if (key == "modifiedAt") {
      SetStringOrExtra(member, key, attr->mutable_modified_at(), extra);
    } else if (key == "deletedAt") {
      SetStringOrExtra(member, key, attr->mutable_deleted_at(), extra);
    } else if (key == "languageMap") {
      SetValue(member, attr->mutable_language_map());
    } else if (key == "lang") {
      SetStringOrExtra(member, key, attr->mutable_lang(), extra);
    } else if (key == "vocab") {
      SetValue(member, attr->mutable_vocab());
    } else if (key == "json") {
      SetValue(member, attr->mutable_json());
    } else if (key == "previousValue") {
      SetValue(member, attr->mutable_previous_value());
    } else if (key == "previousObject") {
      SetValue(member, attr->mutable_previous_object());
    } else if (key == "previousLanguageMap") {
      SetValue(member, attr->mutable_previous_language_map());
    } else if (key == "previousVocab") {
      SetValue(member, attr->mutable_previous_vocab());
    } else if (key == "previousJson") {
      SetValue(member, attr->mutable_previous_json());
    } else if (IsLdKeyword(key)) {
      (*extra)[key] = common::JsonToValue(member);
    } else if (member.is_structured() || form == LdForm::kConcise) {
      // A property of the property (normalized: an object or instances;
      // concise: also a bare value).
      ParseLdAttribute(member, form, &(*attr->mutable_metadata())[key]);
    } else {
      (*extra)[key] = common::JsonToValue(member);
    }
  }
}

}  // namespace

void SetStringOrExtra(const json& json, absl::string_view key,
                      std::string* field, ValueMap* extra) {
  if (json.is_string() && !json.get_ref<const std::string&>().empty()) {
    *field = json.get_ref<const std::string&>();
  } else {
    (*extra)[std::string(key)] = common::JsonToValue(json);
  }
}

void SetBareValue(const json& json, v1::Attribute* attr) {
  attr->set_bare(true);
  SetValue(json, attr->mutable_value());
}

void ParseV2Attribute(const json& json, v1::Attribute* attr) {
  if (!json.is_object()) {
    SetBareValue(json, attr);
    return;
  }
  ValueMap* extra = attr->mutable_extra();
  for (auto it = json.begin(); it != json.end(); ++it) {
    const std::string& key = it.key();
    const auto& member = it.value();
    if (key == "type") {
      SetStringOrExtra(member, key, attr->mutable_type(), extra);
    } else if (key == "value") {
      SetValue(member, attr->mutable_value());
    } else if (key == "metadata" && member.is_object()) {
      auto& metadata = *attr->mutable_metadata();
      for (auto item = member.begin(); item != member.end(); ++item) {
        ParseV2Attribute(item.value(), &metadata[item.key()]);
      }
    } else {
      (*extra)[key] = common::JsonToValue(member);
    }
  }
}

absl::Status ParseV1Attribute(const json& json, v1::Attribute* attr) {
  ValueMap* extra = attr->mutable_extra();
  for (auto it = json.begin(); it != json.end(); ++it) {
    const std::string& key = it.key();
    const auto& member = it.value();
    if (key == "name") continue;  // the caller's map key
    if (key == "type") {
      SetStringOrExtra(member, key, attr->mutable_type(), extra);
    } else if (key == "value") {
      SetValue(member, attr->mutable_value());
    } else if (key == "metadatas" && member.is_array()) {
      auto& metadata = *attr->mutable_metadata();
      for (size_t i = 0; i < member.size(); ++i) {
        const auto& item = member[i];
        const auto name = item.find("name");  // end() for non-objects
        if (name == item.end() || !name->is_string()) {
          return absl::InvalidArgumentError(
              absl::StrCat("metadata ", i, " has no \"name\""));
        }
        const std::string& item_name = name->get_ref<const std::string&>();
        if (metadata.count(item_name) != 0) {
          return absl::InvalidArgumentError(
              absl::StrCat("metadata \"", item_name, "\" is repeated"));
        }
        NB_RETURN_IF_ERROR(ParseV1Attribute(item, &metadata[item_name]));
      }
    } else {
      (*extra)[key] = common::JsonToValue(member);
    }
  }
  return absl::OkStatus();
}

void ParseLdAttribute(const json& json, LdForm form, v1::Attribute* attr) {
  if (form == LdForm::kSimplified) {
    SetBareValue(json, attr);
    return;
  }
  if (json.is_object()) {
    if (form == LdForm::kNormalized || LooksLikeConciseAttribute(json)) {
      ParseLdAttributeObject(json, form, attr);
    } else {
      SetBareValue(json, attr);
    }
    return;
  }
  if (json.is_array() && !json.empty()) {
    // Multi-attribute: every element an attribute instance (told apart by
    // datasetId). Anything else is an array value.
    bool instances = true;
    for (const auto& element : json) {
      if (!element.is_object() ||
          (form == LdForm::kConcise && !LooksLikeConciseAttribute(element))) {
        instances = false;
        break;
      }
    }
    if (instances) {
      for (const auto& element : json) {
        ParseLdAttributeObject(element, form, attr->add_instances());
      }
      return;
    }
  }
  SetBareValue(json, attr);
}

}  // namespace ngsi_bridge::receiver
