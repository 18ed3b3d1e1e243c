#include "replier-service/entity_validator.h"

#include <string>

#include "absl/functional/function_ref.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace ngsi_bridge::replier {
namespace {

constexpr absl::string_view kForbidden = "<>\"'=;()";
// Orion's extra restriction on identifiers: they travel in URL paths.
constexpr absl::string_view kForbiddenInV2Ids = "&?/#";
constexpr size_t kMaxIdentifierLength = 256;

// Every check says where its text sits ("attribute 'A' metadata 'unit'
// value") only when the text fails: formatting those paths for every
// attribute was most of the checks' cost (a fifth of the replier's CPU at
// 1000-entity batches), so they are functions called on failure.
using Where = absl::FunctionRef<std::string()>;

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

// The first byte of `text` in one of `classes`, or npos.
size_t FindByteOf(absl::string_view text, unsigned char classes) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (kByteClasses.of[static_cast<unsigned char>(text[i])] & classes) {
      return i;
    }
  }
  return absl::string_view::npos;
}

// Quotes `text` for an error message, shortened so a 10 kB value does not
// flood the result.
std::string Shown(absl::string_view text) {
  if (text.size() <= 64) return absl::StrCat("'", text, "'");
  return absl::StrCat("'", text.substr(0, 61), "...'");
}

absl::Status CheckIdentifier(Where what, absl::string_view text,
                             v1::Flavor flavor) {
  if (text.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what(), " is empty"));
  }
  if (flavor == v1::NGSI_V2 && text.size() > kMaxIdentifierLength) {
    return absl::InvalidArgumentError(
        absl::StrCat(what(), " ", Shown(text), " is ", text.size(),
                     " characters long, over the broker's 256"));
  }
  const size_t bad = FindByteOf(text, flavor == v1::NGSI_V2 ? 1 | 2 | 4 : 1 | 4);
  if (bad == absl::string_view::npos) return absl::OkStatus();
  const auto byte = static_cast<unsigned char>(text[bad]);
  if (kByteClasses.of[byte] & 4) {
    return absl::InvalidArgumentError(absl::StrCat(
        what(), " ", Shown(text),
        " has a character that is not printable ASCII (byte ",
        static_cast<int>(byte), ")"));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      what(), " ", Shown(text), " has the forbidden character '",
      std::string(1, text[bad]), "'"));
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

// A string of a v2 value, or a key of one (Orion checks keys of compound
// values like any other string).
absl::Status CheckValueText(Where where, absl::string_view text) {
  const size_t bad = FindByteOf(text, 1);
  if (bad == absl::string_view::npos) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      where(), " has the forbidden character '", std::string(1, text[bad]),
      "' in ", Shown(text),
      " (allowed only with attribute type TextUnrestricted)"));
}

absl::Status CheckValue(Where where, const google::protobuf::Value& value) {
  switch (value.kind_case()) {
    case google::protobuf::Value::kStringValue:
      return CheckValueText(where, value.string_value());
    case google::protobuf::Value::kListValue:
      for (const auto& item : value.list_value().values()) {
        if (absl::Status s = CheckValue(where, item); !s.ok()) return s;
      }
      return absl::OkStatus();
    case google::protobuf::Value::kStructValue:
      for (const auto& [key, item] : value.struct_value().fields()) {
        if (absl::Status s = CheckValueText(where, key); !s.ok()) return s;
        if (absl::Status s = CheckValue(where, item); !s.ok()) return s;
      }
      return absl::OkStatus();
    default:
      return absl::OkStatus();
  }
}

absl::Status CheckAttribute(Where where, absl::string_view name,
                            const v1::Attribute& attr, v1::Flavor flavor,
                            bool check_values) {
  if (absl::Status s = CheckIdentifier(
          [&] { return absl::StrCat(where(), " name"); }, name, flavor);
      !s.ok()) {
    return s;
  }
  const auto self = [&] { return absl::StrCat(where(), " '", name, "'"); };
  if (!attr.type().empty()) {
    if (absl::Status s = CheckIdentifier(
            [&] { return absl::StrCat(self(), " type"); }, attr.type(), flavor);
        !s.ok()) {
      return s;
    }
  }
  if (check_values && attr.type() != "TextUnrestricted") {
    if (absl::Status s = CheckValue(
            [&] { return absl::StrCat(self(), " value"); }, attr.value());
        !s.ok()) {
      return s;
    }
  }
  const auto metadata = [&] { return absl::StrCat(self(), " metadata"); };
  for (const auto& [meta_name, meta] : attr.metadata()) {
    if (absl::Status s =
            CheckAttribute(metadata, meta_name, meta, flavor, check_values);
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
  const auto entity_id = [] { return std::string("entity id"); };
  const auto entity_type = [] { return std::string("entity type"); };
  if (flavor == v1::NGSI_LD) {
    if (absl::Status s = CheckLdId(entity.id()); !s.ok()) return s;
  } else if (absl::Status s = CheckIdentifier(entity_id, entity.id(), flavor);
             !s.ok()) {
    return s;
  }
  if (entity.has_type() && !entity.type().empty()) {
    if (absl::Status s = CheckIdentifier(entity_type, entity.type(), flavor);
        !s.ok()) {
      return s;
    }
  }
  for (const std::string& type : entity.types()) {
    if (absl::Status s = CheckIdentifier(entity_type, type, flavor);
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
  const auto attribute = [] { return std::string("attribute"); };
  for (const auto& [name, attr] : entity.attrs()) {
    if (absl::Status s =
            CheckAttribute(attribute, name, attr, flavor, check_values);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace ngsi_bridge::replier
