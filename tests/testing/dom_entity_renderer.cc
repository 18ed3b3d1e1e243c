#include "tests/testing/dom_entity_renderer.h"

#include "common/ngsi_json.h"
#include "nlohmann/json.hpp"

// The replier's renderer as it was before it wrote text directly: an
// nlohmann DOM, dumped. Kept as the reference the direct writer is held to.
namespace ngsi_bridge::testing {
namespace {

using nlohmann::json;
using common::ValueToJson;
using replier::RenderOptions;

bool IsSet(const google::protobuf::Value& value) {
  return value.kind_case() != google::protobuf::Value::KIND_NOT_SET;
}

bool LooksLikeGeometry(const google::protobuf::Value& value) {
  if (!value.has_struct_value()) return false;
  const auto& fields = value.struct_value().fields();
  const auto type = fields.find("type");
  return type != fields.end() && type->second.has_string_value() &&
         (fields.count("coordinates") > 0 || fields.count("geometries") > 0);
}

json RenderAttributeJson(const v1::Attribute& attr,
                         const RenderOptions& options, bool is_metadata);

json RenderBare(const v1::Attribute& attr, const RenderOptions& options) {
  json out = json::object();
  if (options.flavor == v1::NGSI_LD) {
    out["type"] = LooksLikeGeometry(attr.value()) ? "GeoProperty" : "Property";
  }
  out["value"] = ValueToJson(attr.value());
  return out;
}

json RenderAttributeJson(const v1::Attribute& attr,
                         const RenderOptions& options, bool is_metadata) {
  if (attr.instances_size() > 0) {
    json list = json::array();
    for (const v1::Attribute& instance : attr.instances()) {
      list.push_back(RenderAttributeJson(instance, options, is_metadata));
    }
    return list;
  }
  if (attr.bare()) {
    if (options.key_values && !is_metadata) return ValueToJson(attr.value());
    return RenderBare(attr, options);
  }
  json out = json::object();
  if (!attr.type().empty()) out["type"] = attr.type();
  if (IsSet(attr.value())) out["value"] = ValueToJson(attr.value());
  if (options.flavor == v1::NGSI_V2) {
    if (!is_metadata && attr.metadata_size() > 0) {
      json metadata = json::object();
      for (const auto& [name, meta] : attr.metadata()) {
        metadata[name] = RenderAttributeJson(meta, options, true);
      }
      out["metadata"] = std::move(metadata);
    }
    // v2 has no attribute without a value: an unset one is written as null.
    if (!IsSet(attr.value()) && !is_metadata) out["value"] = nullptr;
  } else {
    if (IsSet(attr.object())) out["object"] = ValueToJson(attr.object());
    if (IsSet(attr.language_map())) {
      out["languageMap"] = ValueToJson(attr.language_map());
    }
    if (IsSet(attr.vocab())) out["vocab"] = ValueToJson(attr.vocab());
    if (IsSet(attr.json())) out["json"] = ValueToJson(attr.json());
    if (!attr.observed_at().empty()) out["observedAt"] = attr.observed_at();
    if (!attr.unit_code().empty()) out["unitCode"] = attr.unit_code();
    if (!attr.dataset_id().empty()) out["datasetId"] = attr.dataset_id();
    if (!attr.lang().empty()) out["lang"] = attr.lang();
    // LD sub-properties are members of the attribute itself.
    for (const auto& [name, sub] : attr.metadata()) {
      out[name] = RenderAttributeJson(sub, options, false);
    }
  }
  for (const auto& [name, value] : attr.extra()) out[name] = ValueToJson(value);
  return out;
}

json RenderEntityJson(const v1::Entity& entity, const RenderOptions& options) {
  if (options.identity_only && options.flavor == v1::NGSI_LD) {
    return entity.id();
  }
  json out = json::object();
  out["id"] = entity.id();
  if (entity.types_size() > 0) {
    json types = json::array();
    for (const std::string& type : entity.types()) types.push_back(type);
    out["type"] = std::move(types);
  } else if (entity.has_type()) {
    out["type"] = entity.type();
  }
  if (options.identity_only) return out;
  if (options.flavor == v1::NGSI_LD) {
    if (!entity.scope().empty()) out["scope"] = entity.scope();
    if (IsSet(entity.context())) {
      out["@context"] = ValueToJson(entity.context());
    } else if (!options.inline_context.empty()) {
      if (options.inline_context.size() == 1) {
        out["@context"] = ValueToJson(options.inline_context[0]);
      } else {
        json list = json::array();
        for (const auto& item : options.inline_context) {
          list.push_back(ValueToJson(item));
        }
        out["@context"] = std::move(list);
      }
    }
  }
  for (const auto& [name, attr] : entity.attrs()) {
    out[name] = RenderAttributeJson(attr, options, false);
  }
  for (const auto& [name, value] : entity.extra()) {
    if (!out.contains(name)) out[name] = ValueToJson(value);
  }
  return out;
}

std::string Dump(const json& doc) {
  // replace: a proto string is valid UTF-8 already; never throw regardless.
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

std::string RenderEntityByDom(const v1::Entity& entity,
                              const replier::RenderOptions& options) {
  return Dump(RenderEntityJson(entity, options));
}

std::string RenderAttributeByDom(const v1::Attribute& attribute,
                                 const replier::RenderOptions& options) {
  return Dump(RenderAttributeJson(attribute, options, false));
}

}  // namespace ngsi_bridge::testing
