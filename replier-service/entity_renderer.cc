#include "replier-service/entity_renderer.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>

#include "absl/container/inlined_vector.h"
#include "common/ngsi_json.h"
#include "nlohmann/json.hpp"

// The entity is written straight into its JSON text. It used to be built as
// an nlohmann DOM and dumped, which cost a third of the replier's CPU at
// batches of 1000 (bench/, docs/performance.md). The text is byte for byte
// what that dump gave (tests/integration/entity_renderer_equivalence_test.cc
// and fuzz_entity_renderer compare them): an object's members sorted by key
// as std::map orders them, a key written twice keeping its last value,
// strings escaped as nlohmann's dump() does without ensure_ascii, numbers as
// common::ValueToJson turns them into JSON.
namespace ngsi_bridge::replier {
namespace {

using google::protobuf::Value;

bool IsSet(const Value& value) {
  return value.kind_case() != Value::KIND_NOT_SET;
}

bool LooksLikeGeometry(const Value& value) {
  if (!value.has_struct_value()) return false;
  const auto& fields = value.struct_value().fields();
  const auto type = fields.find("type");
  return type != fields.end() && type->second.has_string_value() &&
         (fields.count("coordinates") > 0 || fields.count("geometries") > 0);
}

class EntityWriter {
 public:
  EntityWriter(const RenderOptions& options, std::string& out)
      : options_(options), out_(out) {}

  void Entity(const v1::Entity& entity);
  void Attribute(const v1::Attribute& attr, bool is_metadata);

 private:
  // One member of an object being written, told what to write by `kind`.
  struct Member {
    enum Kind {
      kText,           // *text, a JSON string
      kValue,          // *value
      kAttribute,      // *attribute, as an attribute (not metadata)
      kMetadataEntry,  // *attribute, as v2 metadata
      kMetadataObject, // the v2 "metadata" object of *owner
      kTypes,          // the entity's types array (*entity)
      kInlineContext,  // options_.inline_context as an array
      kNull,
    };
    absl::string_view key;
    Kind kind;
    const void* what = nullptr;
    // Written only when no other member has the key (the entity's extra
    // members, which never replace what the entity itself renders).
    bool weak = false;
  };
  using Members = absl::InlinedVector<Member, 12>;

  void Object(Members& members);
  void MemberValue(const Member& member);
  void Bare(const v1::Attribute& attr);
  void MetadataObject(const v1::Attribute& owner);
  void WriteValue(const Value& value);
  void Number(double number);
  void String(absl::string_view text);

  const RenderOptions& options_;
  std::string& out_;
};

void EntityWriter::Object(Members& members) {
  // Equal keys stay in the order they were added: the last strong one
  // wins, as the last assignment into a std::map did.
  std::stable_sort(members.begin(), members.end(),
                   [](const Member& a, const Member& b) { return a.key < b.key; });
  out_ += '{';
  bool first = true;
  for (size_t i = 0; i < members.size();) {
    size_t end = i + 1;
    while (end < members.size() && members[end].key == members[i].key) ++end;
    const Member* chosen = &members[i];  // a weak member alone is written
    for (size_t k = i; k < end; ++k) {
      if (!members[k].weak) chosen = &members[k];
    }
    if (!first) out_ += ',';
    first = false;
    String(chosen->key);
    out_ += ':';
    MemberValue(*chosen);
    i = end;
  }
  out_ += '}';
}

void EntityWriter::MemberValue(const Member& member) {
  switch (member.kind) {
    case Member::kText:
      String(*static_cast<const std::string*>(member.what));
      return;
    case Member::kValue:
      WriteValue(*static_cast<const Value*>(member.what));
      return;
    case Member::kAttribute:
      Attribute(*static_cast<const v1::Attribute*>(member.what), false);
      return;
    case Member::kMetadataEntry:
      Attribute(*static_cast<const v1::Attribute*>(member.what), true);
      return;
    case Member::kMetadataObject:
      MetadataObject(*static_cast<const v1::Attribute*>(member.what));
      return;
    case Member::kTypes: {
      const auto& types = static_cast<const v1::Entity*>(member.what)->types();
      out_ += '[';
      for (int i = 0; i < types.size(); ++i) {
        if (i > 0) out_ += ',';
        String(types.Get(i));
      }
      out_ += ']';
      return;
    }
    case Member::kInlineContext:
      out_ += '[';
      for (size_t i = 0; i < options_.inline_context.size(); ++i) {
        if (i > 0) out_ += ',';
        WriteValue(options_.inline_context[i]);
      }
      out_ += ']';
      return;
    case Member::kNull:
      out_ += "null";
      return;
  }
}

void EntityWriter::Bare(const v1::Attribute& attr) {
  out_ += '{';
  if (options_.flavor == v1::NGSI_LD) {
    out_ += LooksLikeGeometry(attr.value()) ? "\"type\":\"GeoProperty\","
                                            : "\"type\":\"Property\",";
  }
  out_ += "\"value\":";
  WriteValue(attr.value());
  out_ += '}';
}

void EntityWriter::MetadataObject(const v1::Attribute& owner) {
  Members members;
  for (const auto& [name, meta] : owner.metadata()) {
    members.push_back({name, Member::kMetadataEntry, &meta});
  }
  Object(members);
}

void EntityWriter::Attribute(const v1::Attribute& attr, bool is_metadata) {
  if (attr.instances_size() > 0) {
    out_ += '[';
    for (int i = 0; i < attr.instances_size(); ++i) {
      if (i > 0) out_ += ',';
      Attribute(attr.instances(i), is_metadata);
    }
    out_ += ']';
    return;
  }
  if (attr.bare()) {
    if (options_.key_values && !is_metadata) {
      WriteValue(attr.value());
    } else {
      Bare(attr);
    }
    return;
  }
  Members members;
  const auto text = [&](absl::string_view key, const std::string& value) {
    if (!value.empty()) members.push_back({key, Member::kText, &value});
  };
  const auto value = [&](absl::string_view key, const Value& v) {
    if (IsSet(v)) members.push_back({key, Member::kValue, &v});
  };
  text("type", attr.type());
  value("value", attr.value());
  if (options_.flavor == v1::NGSI_V2) {
    if (!is_metadata && attr.metadata_size() > 0) {
      members.push_back({"metadata", Member::kMetadataObject, &attr});
    }
    // v2 has no attribute without a value: an unset one is written as null.
    if (!IsSet(attr.value()) && !is_metadata) {
      members.push_back({"value", Member::kNull});
    }
  } else {
    value("object", attr.object());
    value("languageMap", attr.language_map());
    value("vocab", attr.vocab());
    value("json", attr.json());
    text("observedAt", attr.observed_at());
    text("unitCode", attr.unit_code());
    text("datasetId", attr.dataset_id());
    text("lang", attr.lang());
    // LD sub-properties are members of the attribute itself.
    for (const auto& [name, sub] : attr.metadata()) {
      members.push_back({name, Member::kAttribute, &sub});
    }
  }
  for (const auto& [name, extra] : attr.extra()) {
    members.push_back({name, Member::kValue, &extra});
  }
  Object(members);
}

void EntityWriter::Entity(const v1::Entity& entity) {
  if (options_.identity_only && options_.flavor == v1::NGSI_LD) {
    String(entity.id());
    return;
  }
  Members members;
  members.push_back({"id", Member::kText, &entity.id()});
  if (entity.types_size() > 0) {
    members.push_back({"type", Member::kTypes, &entity});
  } else if (entity.has_type()) {
    members.push_back({"type", Member::kText, &entity.type()});
  }
  if (!options_.identity_only) {
    if (options_.flavor == v1::NGSI_LD) {
      if (!entity.scope().empty()) {
        members.push_back({"scope", Member::kText, &entity.scope()});
      }
      if (IsSet(entity.context())) {
        members.push_back({"@context", Member::kValue, &entity.context()});
      } else if (options_.inline_context.size() == 1) {
        members.push_back(
            {"@context", Member::kValue, &options_.inline_context[0]});
      } else if (!options_.inline_context.empty()) {
        members.push_back({"@context", Member::kInlineContext});
      }
    }
    for (const auto& [name, attr] : entity.attrs()) {
      members.push_back({name, Member::kAttribute, &attr});
    }
    for (const auto& [name, extra] : entity.extra()) {
      members.push_back({name, Member::kValue, &extra, /*weak=*/true});
    }
  }
  Object(members);
}

void EntityWriter::WriteValue(const Value& value) {
  switch (value.kind_case()) {
    case Value::kBoolValue:
      out_ += value.bool_value() ? "true" : "false";
      return;
    case Value::kNumberValue:
      Number(value.number_value());
      return;
    case Value::kStringValue:
      String(value.string_value());
      return;
    case Value::kListValue: {
      out_ += '[';
      bool first = true;
      for (const Value& item : value.list_value().values()) {
        if (!first) out_ += ',';
        first = false;
        WriteValue(item);
      }
      out_ += ']';
      return;
    }
    case Value::kStructValue: {
      Members members;
      for (const auto& [key, item] : value.struct_value().fields()) {
        members.push_back({key, Member::kValue, &item});
      }
      Object(members);
      return;
    }
    case Value::kNullValue:
    case Value::KIND_NOT_SET:
      break;
  }
  out_ += "null";
}

void EntityWriter::Number(double number) {
  char buffer[64];
  char* end = buffer;
  // Integral doubles go out as integers, as the broker sent them (and as
  // common::ValueToJson makes them).
  if (std::isfinite(number) && number == std::trunc(number) &&
      std::fabs(number) < 9007199254740992.0) {
    end = std::to_chars(buffer, buffer + sizeof(buffer),
                        static_cast<int64_t>(number))
              .ptr;
  } else if (std::isfinite(number)) {
    end = nlohmann::detail::to_chars(buffer, buffer + sizeof(buffer), number);
  } else {
    out_ += "null";  // JSON has no NaN or infinity
    return;
  }
  out_.append(buffer, static_cast<size_t>(end - buffer));
}

void EntityWriter::String(absl::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  bool ascii = true;
  for (const char c : text) ascii &= static_cast<unsigned char>(c) < 0x80;
  if (!ascii && !common::ValidateUtf8(text).ok()) {
    // Protobuf strings are UTF-8 when they arrive through gRPC; anything
    // else is replaced (U+FFFD) exactly as nlohmann's dump() does it.
    out_ += nlohmann::json(std::string(text))
                .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return;
  }
  out_ += '"';
  size_t plain_from = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out_.append(text.data() + plain_from, i - plain_from);
    plain_from = i + 1;
    switch (c) {
      case '"':
        out_ += "\\\"";
        break;
      case '\\':
        out_ += "\\\\";
        break;
      case '\b':
        out_ += "\\b";
        break;
      case '\f':
        out_ += "\\f";
        break;
      case '\n':
        out_ += "\\n";
        break;
      case '\r':
        out_ += "\\r";
        break;
      case '\t':
        out_ += "\\t";
        break;
      default:
        out_ += "\\u00";
        out_ += kHex[c >> 4];
        out_ += kHex[c & 0xf];
    }
  }
  out_.append(text.data() + plain_from, text.size() - plain_from);
  out_ += '"';
}

}  // namespace

std::string RenderEntity(const v1::Entity& entity,
                         const RenderOptions& options) {
  std::string out;
  out.reserve(256);
  EntityWriter(options, out).Entity(entity);
  return out;
}

std::string RenderAttribute(const v1::Attribute& attribute,
                            const RenderOptions& options) {
  std::string out;
  EntityWriter(options, out).Attribute(attribute, false);
  return out;
}

bool AllAttributesBare(const v1::Entity& entity) {
  if (entity.attrs_size() == 0) return false;
  for (const auto& [name, attr] : entity.attrs()) {
    if (!attr.bare()) return false;
  }
  return true;
}

}  // namespace ngsi_bridge::replier
