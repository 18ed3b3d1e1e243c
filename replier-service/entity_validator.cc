#include "replier-service/entity_validator.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace ngsi_bridge::replier {
namespace {

constexpr absl::string_view kForbidden = "<>\"'=;()";
// Orion's extra restriction on identifiers: they travel in URL paths.
constexpr absl::string_view kForbiddenInV2Ids = "&?/#";
constexpr size_t kMaxIdentifierLength = 256;

// The checks below build their error messages (with the path of the
// attribute) as they go; that formatting was most of their cost (a fifth
// of the replier's CPU at 1000-entity batches). The fast checks first say
// only whether anything is wrong, and the explaining ones run when so.
struct ByteClasses {
  // Bit 1: never in an identifier or a v2 value (kForbidden). Bit 2:
  // never in a v2 identifier (kForbiddenInV2Ids). Bit 4: not printable
  // ASCII.
  unsigned char of[256] = {};
  constexpr ByteClasses() {
    for (int b = 0; b < 256; ++b) {
      if (b <= 0x20 || b >= 0x7F) of[b] |= 4;
    }
    for (const char c : kForbidden) of[static_cast<unsigned char>(c)] |= 1;
    for (const char c : kForbiddenInV2Ids) {
      of[static_cast<unsigned char>(c)] |= 2;
    }
  }
};
constexpr ByteClasses kByteClasses;

bool HasByteOf(absl::string_view text, unsigned char classes) {
  for (const char c : text) {
    if (kByteClasses.of[static_cast<unsigned char>(c)] & classes) return true;
  }
  return false;
}

bool IdentifierOk(absl::string_view text, v1::Flavor flavor) {
  if (text.empty()) return false;
  if (flavor == v1::NGSI_V2) {
    return text.size() <= kMaxIdentifierLength && !HasByteOf(text, 1 | 2 | 4);
  }
  return !HasByteOf(text, 1 | 4);
}

bool ValueOk(const google::protobuf::Value& value) {
  switch (value.kind_case()) {
    case google::protobuf::Value::kStringValue:
      return !HasByteOf(value.string_value(), 1);
    case google::protobuf::Value::kListValue:
      for (const auto& item : value.list_value().values()) {
        if (!ValueOk(item)) return false;
      }
      return true;
    case google::protobuf::Value::kStructValue:
      for (const auto& [key, item] : value.struct_value().fields()) {
        if (HasByteOf(key, 1) || !ValueOk(item)) return false;
      }
      return true;
    default:
      return true;
  }
}

bool AttributeOk(absl::string_view name, const v1::Attribute& attr,
                 v1::Flavor flavor, bool check_values) {
  if (!IdentifierOk(name, flavor)) return false;
  if (!attr.type().empty() && !IdentifierOk(attr.type(), flavor)) {
    return false;
  }
  if (check_values && attr.type() != "TextUnrestricted" &&
      !ValueOk(attr.value())) {
    return false;
  }
  for (const auto& [meta_name, meta] : attr.metadata()) {
    if (!AttributeOk(meta_name, meta, flavor, check_values)) return false;
  }
  for (const v1::Attribute& instance : attr.instances()) {
    if (!AttributeOk(name, instance, flavor, check_values)) return false;
  }
  return true;
}

// Quotes `text` for an error message, shortened so a 10 kB value does not
// flood the result.
std::string Shown(absl::string_view text) {
  if (text.size() <= 64) return absl::StrCat("'", text, "'");
  return absl::StrCat("'", text.substr(0, 61), "...'");
}

absl::Status CheckIdentifier(absl::string_view what, absl::string_view text,
                             v1::Flavor flavor) {
  if (text.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  }
  if (flavor == v1::NGSI_V2 && text.size() > kMaxIdentifierLength) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", Shown(text), " is ", text.size(),
                     " characters long, over the broker's 256"));
  }
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7F) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " ", Shown(text),
          " has a character that is not printable ASCII (byte ",
          static_cast<int>(byte), ")"));
    }
    if (kForbidden.find(c) != absl::string_view::npos ||
        (flavor == v1::NGSI_V2 &&
         kForbiddenInV2Ids.find(c) != absl::string_view::npos)) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " ", Shown(text), " has the forbidden character '",
          std::string(1, c), "'"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckLdId(absl::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError("entity id is empty");
  for (const char c : id) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7F || c == '<' || c == '>' || c == '"') {
      return absl::InvalidArgumentError(absl::StrCat(
          "entity id ", Shown(id), " is not a URI (character byte ",
          static_cast<int>(byte), ")"));
    }
  }
  const size_t colon = id.find(':');
  bool scheme_ok = colon != absl::string_view::npos && colon > 0 &&
                   absl::ascii_isalpha(id[0]);
  for (size_t i = 1; scheme_ok && i < colon; ++i) {
    const char c = id[i];
    scheme_ok = absl::ascii_isalnum(c) || c == '+' || c == '-' || c == '.';
  }
  if (!scheme_ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "entity id ", Shown(id), " is not a URI (NGSI-LD ids need a scheme, "
        "as in urn:ngsi-ld:Type:1)"));
  }
  return absl::OkStatus();
}

absl::Status CheckValue(absl::string_view where,
                        const google::protobuf::Value& value) {
  switch (value.kind_case()) {
    case google::protobuf::Value::kStringValue:
      for (const char c : value.string_value()) {
        if (kForbidden.find(c) != absl::string_view::npos) {
          return absl::InvalidArgumentError(absl::StrCat(
              where, " has the forbidden character '", std::string(1, c),
              "' in ", Shown(value.string_value()),
              " (allowed only with attribute type TextUnrestricted)"));
        }
      }
      return absl::OkStatus();
    case google::protobuf::Value::kListValue:
      for (const auto& item : value.list_value().values()) {
        if (absl::Status s = CheckValue(where, item); !s.ok()) return s;
      }
      return absl::OkStatus();
    case google::protobuf::Value::kStructValue:
      for (const auto& [key, item] : value.struct_value().fields()) {
        // Orion checks keys of compound values like any other string.
        google::protobuf::Value key_value;
        key_value.set_string_value(key);
        if (absl::Status s = CheckValue(where, key_value); !s.ok()) return s;
        if (absl::Status s = CheckValue(where, item); !s.ok()) return s;
      }
      return absl::OkStatus();
    default:
      return absl::OkStatus();
  }
}

absl::Status CheckAttribute(absl::string_view where, absl::string_view name,
                            const v1::Attribute& attr, v1::Flavor flavor,
                            bool check_values) {
  if (absl::Status s = CheckIdentifier(
          absl::StrCat(where, " name"), name, flavor);
      !s.ok()) {
    return s;
  }
  const std::string self = absl::StrCat(where, " '", name, "'");
  if (!attr.type().empty()) {
    if (absl::Status s =
            CheckIdentifier(absl::StrCat(self, " type"), attr.type(), flavor);
        !s.ok()) {
      return s;
    }
  }
  if (check_values && attr.type() != "TextUnrestricted") {
    if (absl::Status s = CheckValue(absl::StrCat(self, " value"), attr.value());
        !s.ok()) {
      return s;
    }
  }
  for (const auto& [meta_name, meta] : attr.metadata()) {
    if (absl::Status s = CheckAttribute(absl::StrCat(self, " metadata"),
                                        meta_name, meta, flavor, check_values);
        !s.ok()) {
      return s;
    }
  }
  for (const v1::Attribute& instance : attr.instances()) {
    if (absl::Status s = CheckAttribute(where, name, instance, flavor,
                                        check_values);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateEntity(const v1::Entity& entity, v1::Flavor flavor,
                            v1::Operation operation) {
  if (!entity.has_id()) {
    return absl::InvalidArgumentError("entity has no id");
  }
  if (flavor == v1::NGSI_LD) {
    if (absl::Status s = CheckLdId(entity.id()); !s.ok()) return s;
  } else if (!IdentifierOk(entity.id(), flavor)) {
    return CheckIdentifier("entity id", entity.id(), flavor);
  }
  if (entity.has_type() && !entity.type().empty() &&
      !IdentifierOk(entity.type(), flavor)) {
    if (absl::Status s =
            CheckIdentifier("entity type", entity.type(), flavor);
        !s.ok()) {
      return s;
    }
  }
  for (const std::string& type : entity.types()) {
    if (absl::Status s = CheckIdentifier("entity type", type, flavor);
        !s.ok()) {
      return s;
    }
  }
  const bool creates = operation == v1::OPERATION_CREATE ||
                       operation == v1::OPERATION_UPSERT;
  if (flavor == v1::NGSI_LD && creates && !entity.has_type() &&
      entity.types().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("entity '", entity.id(),
                     "' has no type, which NGSI-LD needs to create it"));
  }
  // Orion checks values only for NGSIv2; a delete sends none that matter.
  const bool check_values =
      flavor == v1::NGSI_V2 && operation != v1::OPERATION_DELETE;
  for (const auto& [name, attr] : entity.attrs()) {
    if (AttributeOk(name, attr, flavor, check_values)) continue;
    if (absl::Status s =
            CheckAttribute("attribute", name, attr, flavor, check_values);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace ngsi_bridge::replier
