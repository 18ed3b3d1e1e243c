#include "common/ngsi_json.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"

namespace ngsi_bridge::common {
namespace {

// Length of the UTF-8 sequence at text[i], or 0 when it is invalid
// (bad lead byte, bad continuation, overlong, surrogate, > U+10FFFF).
size_t Utf8SequenceLength(absl::string_view text, size_t i) {
  const auto byte = [&](size_t k) {
    return static_cast<unsigned char>(text[k]);
  };
  const unsigned char lead = byte(i);
  if (lead < 0x80) return 1;
  size_t length;
  unsigned char min_second = 0x80, max_second = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) min_second = 0xA0;  // overlong
    if (lead == 0xED) max_second = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) min_second = 0x90;  // overlong
    if (lead == 0xF4) max_second = 0x8F;  // beyond U+10FFFF
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < min_second || byte(i + 1) > max_second) return 0;
  for (size_t k = 2; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  return length;
}

}  // namespace

absl::Status ValidateUtf8(absl::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const size_t length = Utf8SequenceLength(text, i);
    if (length == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid UTF-8 at byte offset ", i));
    }
    i += length;
  }
  return absl::OkStatus();
}

namespace {

// Whether `text` nests objects and arrays more than `max_depth` deep,
// counting brackets outside strings. A pass over the bytes before parsing,
// instead of nlohmann's callback parser: that one scans every finished
// object's siblings for discarded values, which made a notification with
// n attributes cost O(n^2) (10 % of the CPU at 10 KB).
bool NestsDeeperThan(absl::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character, whatever it is
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (depth >= max_depth) return true;
      ++depth;
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return false;
}

}  // namespace

absl::StatusOr<nlohmann::json> ParseJson(absl::string_view text,
                                         const JsonLimits& limits) {
  if (absl::Status utf8 = ValidateUtf8(text); !utf8.ok()) return utf8;
  if (NestsDeeperThan(text, limits.max_depth)) {
    return absl::InvalidArgumentError(
        absl::StrCat("JSON nesting deeper than ", limits.max_depth));
  }
  nlohmann::json doc = nlohmann::json::parse(text.begin(), text.end(),
                                             /*cb=*/nullptr,
                                             /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    // Re-parse with a SAX sink that records the position of the error
    // instead of throwing.
    struct ErrorSink : nlohmann::json_sax<nlohmann::json> {
      std::string message;
      bool null() override { return true; }
      bool boolean(bool) override { return true; }
      bool number_integer(number_integer_t) override { return true; }
      bool number_unsigned(number_unsigned_t) override { return true; }
      bool number_float(number_float_t, const string_t&) override {
        return true;
      }
      bool string(string_t&) override { return true; }
      bool binary(binary_t&) override { return true; }
      bool start_object(std::size_t) override { return true; }
      bool key(string_t&) override { return true; }
      bool end_object() override { return true; }
      bool start_array(std::size_t) override { return true; }
      bool end_array() override { return true; }
      bool parse_error(std::size_t position, const std::string&,
                       const nlohmann::detail::exception& error) override {
        message = absl::StrCat("invalid JSON at byte ", position, ": ",
                               error.what());
        return false;
      }
    } sink;
    nlohmann::json::sax_parse(text.begin(), text.end(), &sink,
                              nlohmann::json::input_format_t::json,
                              /*strict=*/true);
    return absl::InvalidArgumentError(
        sink.message.empty() ? std::string("invalid JSON") : sink.message);
  }
  return doc;
}

google::protobuf::Value JsonToValue(const nlohmann::json& json) {
  google::protobuf::Value value;
  switch (json.type()) {
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::discarded:
      value.set_null_value(google::protobuf::NULL_VALUE);
      break;
    case nlohmann::json::value_t::boolean:
      value.set_bool_value(json.get<bool>());
      break;
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float:
      value.set_number_value(json.get<double>());
      break;
    case nlohmann::json::value_t::string:
      value.set_string_value(json.get_ref<const std::string&>());
      break;
    case nlohmann::json::value_t::array: {
      auto* list = value.mutable_list_value();
      for (const nlohmann::json& item : json) {
        *list->add_values() = JsonToValue(item);
      }
      break;
    }
    case nlohmann::json::value_t::object: {
      auto* fields = value.mutable_struct_value()->mutable_fields();
      for (const auto& [key, item] : json.items()) {
        (*fields)[key] = JsonToValue(item);
      }
      break;
    }
    case nlohmann::json::value_t::binary:
      value.set_null_value(google::protobuf::NULL_VALUE);  // JSON has none
      break;
  }
  return value;
}

nlohmann::json ValueToJson(const google::protobuf::Value& value) {
  switch (value.kind_case()) {
    case google::protobuf::Value::kNullValue:
    case google::protobuf::Value::KIND_NOT_SET:
      return nullptr;
    case google::protobuf::Value::kBoolValue:
      return value.bool_value();
    case google::protobuf::Value::kNumberValue: {
      // Integral doubles go out as integers, as the broker sent them.
      const double number = value.number_value();
      if (std::isfinite(number) && number == std::trunc(number) &&
          std::fabs(number) < 9007199254740992.0) {
        return static_cast<int64_t>(number);
      }
      return number;
    }
    case google::protobuf::Value::kStringValue:
      return value.string_value();
    case google::protobuf::Value::kListValue: {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& item : value.list_value().values()) {
        list.push_back(ValueToJson(item));
      }
      return list;
    }
    case google::protobuf::Value::kStructValue: {
      nlohmann::json object = nlohmann::json::object();
      for (const auto& [key, item] : value.struct_value().fields()) {
        object[key] = ValueToJson(item);
      }
      return object;
    }
  }
  return nullptr;
}

namespace {

// The reference: protobuf's own printer (see EventJsonWriter below).
std::string EventToJsonLineByProtobuf(const v1::NgsiEvent& event) {
  std::string line;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = false;  // camelCase, as documented
  // Printing only fails for unresolvable Any types, which events never hold.
  const auto status =
      google::protobuf::util::MessageToJsonString(event, &line, options);
  (void)status;
  return line;
}

}  // namespace

// --- The event-json writer ---------------------------------------------------
//
// EventToJsonLine() used to be protobuf's MessageToJsonString(), which
// serializes the event to binary, then walks that through its type-resolver
// converter (util::converter::*): ~55-64 us per 1 KB event in bench/, the
// largest cost of a line client. This writer walks the event directly and
// produces the very same bytes (tests/common/ngsi_json_test.cc compares both
// on every fixture): proto3 JSON mapping of protobuf 3.21 — lowerCamel field
// names in field-number order, fields at their default omitted (proto3
// `optional` ones printed when set), 64-bit integers quoted, enums by name,
// timestamps in RFC 3339 with 0/3/6/9 fractional digits, doubles as
// SimpleDtoa (%.15g, else %.17g), maps in their iteration order (the one
// SerializeAsString uses), strings escaped as JsonEscaping does (", \, < and
// > and control characters, plus a list of invisible code points). What it
// does not reproduce (a Value with no kind, a non-finite number, invalid
// UTF-8, an unknown enum number, a timestamp out of range) makes it give up,
// and the event goes through protobuf's printer as before.
namespace {

using google::protobuf::Value;

class EventJsonWriter {
 public:
  explicit EventJsonWriter(std::string& out) : out_(out) {}

  bool Event(const v1::NgsiEvent& event);

 private:
  // Starts a member: a comma unless first, then "name":.
  void Key(absl::string_view name, bool& first) {
    if (!first) out_ += ',';
    first = false;
    out_ += '"';
    out_.append(name.data(), name.size());
    out_ += "\":";
  }
  void StringMember(const char* name, const std::string& value,
                    bool& first) {
    if (value.empty()) return;
    Key(name, first);
    String(value);
  }
  void StringAlways(const char* name, const std::string& value,
                    bool& first) {
    Key(name, first);
    String(value);
  }
  bool ValueMember(const char* name, bool has, const Value& value,
                   bool& first) {
    if (!has) return true;
    Key(name, first);
    return WriteValue(value);
  }
  bool TimestampMember(const char* name, bool has,
                       const google::protobuf::Timestamp& ts, bool& first);
  void String(absl::string_view text);
  bool Escaped(absl::string_view text, size_t from);
  bool WriteValue(const Value& value);
  bool ValueMap(const google::protobuf::Map<std::string, Value>& map);
  bool Entity(const v1::Entity& entity);
  bool Attribute(const v1::Attribute& attribute);
  bool AttributeMap(
      const google::protobuf::Map<std::string, v1::Attribute>& map);

  std::string& out_;
  bool ok_ = true;  // false once a string could not be reproduced
};

// JsonEscaping's escape of code point `cp`, or "" when it goes out as is.
absl::string_view EscapeOf(uint32_t cp, char* buffer) {
  static const char kHex[] = "0123456789abcdef";
  const auto hex4 = [&](uint32_t unit, char* at) {
    at[0] = '\\';
    at[1] = 'u';
    at[2] = kHex[(unit >> 12) & 0xf];
    at[3] = kHex[(unit >> 8) & 0xf];
    at[4] = kHex[(unit >> 4) & 0xf];
    at[5] = kHex[unit & 0xf];
  };
  if (cp < 0xa0) {
    if (cp == '"') return "\\\"";
    if (cp == '\\') return "\\\\";
    switch (cp) {
      case '\b':
        return "\\b";
      case '\t':
        return "\\t";
      case '\n':
        return "\\n";
      case '\f':
        return "\\f";
      case '\r':
        return "\\r";
      default:
        break;
    }
    if (cp >= 0x20 && cp != '<' && cp != '>' && cp < 0x7f) return "";
    hex4(cp, buffer);  // other controls, < > DEL and C1 controls
    return absl::string_view(buffer, 6);
  }
  if (cp == 0xad || cp == 0x6dd || cp == 0x70f || cp == 0x17b4 ||
      cp == 0x17b5 || cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb) ||
      (cp >= 0x600 && cp <= 0x603) || (cp >= 0x200b && cp <= 0x200f) ||
      (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x2064) ||
      (cp >= 0x206a && cp <= 0x206f)) {
    hex4(cp, buffer);
    return absl::string_view(buffer, 6);
  }
  if (cp == 0xe0001 || (cp >= 0x1d173 && cp <= 0x1d17a) ||
      (cp >= 0xe0020 && cp <= 0xe007f)) {
    const uint32_t v = cp - 0x10000;
    hex4(0xd800 + (v >> 10), buffer);
    hex4(0xdc00 + (v & 0x3ff), buffer + 6);
    return absl::string_view(buffer, 12);
  }
  return "";
}

void EventJsonWriter::String(absl::string_view text) {
  out_ += '"';
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' ||
        c == '>') {
      // The common case (nothing to escape) is one append; from the first
      // special byte on, code point by code point.
      out_.append(text.data(), i);
      if (!Escaped(text, i)) ok_ = false;
      out_ += '"';
      return;
    }
  }
  out_.append(text.data(), text.size());
  out_ += '"';
}

// From `from` on, decoding UTF-8 as JsonEscaping::ReadCodePoint does (lead
// byte decides the length; overlong forms are accepted and escaped by their
// code point; surrogates, > U+10FFFF, bad or missing continuation bytes are
// invalid). False on invalid input: JsonEscaping drops such bytes, and we
// let protobuf's printer do exactly that.
bool EventJsonWriter::Escaped(absl::string_view text, size_t from) {
  char buffer[12];
  size_t i = from;
  while (i < text.size()) {
    const unsigned char lead = static_cast<unsigned char>(text[i]);
    uint32_t cp;
    size_t length;
    if (lead <= 0x7f) {
      cp = lead;
      length = 1;
    } else if (lead <= 0xbf) {
      return false;
    } else if (lead <= 0xdf) {
      cp = lead & 0x1f;
      length = 2;
    } else if (lead <= 0xef) {
      cp = lead & 0x0f;
      length = 3;
    } else if (lead <= 0xf7) {
      cp = lead & 0x07;
      length = 4;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      const unsigned char next = static_cast<unsigned char>(text[i + k]);
      if (next < 0x80 || next > 0xbf) return false;
      cp = (cp << 6) | (next & 0x3f);
    }
    if ((cp & 0xfffff800) == 0xd800 || cp > 0x10ffff) return false;
    const absl::string_view escaped = EscapeOf(cp, buffer);
    if (escaped.empty()) {
      out_.append(text.data() + i, length);
    } else {
      out_.append(escaped.data(), escaped.size());
    }
    i += length;
  }
  return true;
}

// protobuf's SimpleDtoa: the shortest of %.15g and %.17g that reads back.
void AppendDouble(double value, std::string& out) {
  char buffer[32];
  int n = std::snprintf(buffer, sizeof(buffer), "%.15g", value);
  if (std::strtod(buffer, nullptr) != value) {
    n = std::snprintf(buffer, sizeof(buffer), "%.17g", value);
  }
  out.append(buffer, static_cast<size_t>(n));
}

bool EventJsonWriter::WriteValue(const Value& value) {
  switch (value.kind_case()) {
    case Value::kNullValue:
      out_ += "null";
      return true;
    case Value::kNumberValue:
      if (!std::isfinite(value.number_value())) return false;
      AppendDouble(value.number_value(), out_);
      return true;
    case Value::kStringValue:
      String(value.string_value());
      return ok_;
    case Value::kBoolValue:
      out_ += value.bool_value() ? "true" : "false";
      return true;
    case Value::kStructValue:
      return ValueMap(value.struct_value().fields());
    case Value::kListValue: {
      out_ += '[';
      bool first = true;
      for (const Value& item : value.list_value().values()) {
        if (!first) out_ += ',';
        first = false;
        if (!WriteValue(item)) return false;
      }
      out_ += ']';
      return true;
    }
    case Value::KIND_NOT_SET:
      break;
  }
  return false;  // protobuf prints nothing at all for it, key included
}

bool EventJsonWriter::ValueMap(
    const google::protobuf::Map<std::string, Value>& map) {
  out_ += '{';
  bool first = true;
  for (const auto& [key, item] : map) {
    if (!first) out_ += ',';
    first = false;
    String(key);
    out_ += ':';
    if (!WriteValue(item)) return false;
  }
  out_ += '}';
  return ok_;
}

bool EventJsonWriter::TimestampMember(const char* name, bool has,
                                      const google::protobuf::Timestamp& ts,
                                      bool& first) {
  if (!has) return true;
  // protobuf's limits: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
  if (ts.seconds() < -62135596800 || ts.seconds() > 253402300799 ||
      ts.nanos() < 0 || ts.nanos() >= 1000000000) {
    return false;
  }
  Key(name, first);
  const absl::CivilSecond civil = absl::ToCivilSecond(
      absl::FromUnixSeconds(ts.seconds()), absl::UTCTimeZone());
  char buffer[48];
  int n = std::snprintf(buffer, sizeof(buffer),
                        "\"%04d-%02d-%02dT%02d:%02d:%02d",
                        static_cast<int>(civil.year()), civil.month(),
                        civil.day(), civil.hour(), civil.minute(),
                        civil.second());
  out_.append(buffer, static_cast<size_t>(n));
  const int32_t nanos = ts.nanos();
  if (nanos != 0) {
    if (nanos % 1000000 == 0) {
      n = std::snprintf(buffer, sizeof(buffer), ".%03d", nanos / 1000000);
    } else if (nanos % 1000 == 0) {
      n = std::snprintf(buffer, sizeof(buffer), ".%06d", nanos / 1000);
    } else {
      n = std::snprintf(buffer, sizeof(buffer), ".%09d", nanos);
    }
    out_.append(buffer, static_cast<size_t>(n));
  }
  out_ += "Z\"";
  return true;
}

bool EventJsonWriter::AttributeMap(
    const google::protobuf::Map<std::string, v1::Attribute>& map) {
  out_ += '{';
  bool first = true;
  for (const auto& [key, attribute] : map) {
    if (!first) out_ += ',';
    first = false;
    String(key);
    out_ += ':';
    if (!Attribute(attribute)) return false;
  }
  out_ += '}';
  return ok_;
}

bool EventJsonWriter::Attribute(const v1::Attribute& a) {
  out_ += '{';
  bool first = true;
  StringMember("type", a.type(), first);
  if (!ValueMember("value", a.has_value(), a.value(), first)) return false;
  if (!a.metadata().empty()) {
    Key("metadata", first);
    if (!AttributeMap(a.metadata())) return false;
  }
  if (!ValueMember("object", a.has_object(), a.object(), first) ||
      !ValueMember("languageMap", a.has_language_map(), a.language_map(),
                   first) ||
      !ValueMember("vocab", a.has_vocab(), a.vocab(), first) ||
      !ValueMember("json", a.has_json(), a.json(), first)) {
    return false;
  }
  StringMember("observedAt", a.observed_at(), first);
  StringMember("unitCode", a.unit_code(), first);
  StringMember("datasetId", a.dataset_id(), first);
  StringMember("createdAt", a.created_at(), first);
  StringMember("modifiedAt", a.modified_at(), first);
  StringMember("deletedAt", a.deleted_at(), first);
  StringMember("lang", a.lang(), first);
  if (!ValueMember("previousValue", a.has_previous_value(),
                   a.previous_value(), first) ||
      !ValueMember("previousObject", a.has_previous_object(),
                   a.previous_object(), first) ||
      !ValueMember("previousLanguageMap", a.has_previous_language_map(),
                   a.previous_language_map(), first) ||
      !ValueMember("previousVocab", a.has_previous_vocab(),
                   a.previous_vocab(), first) ||
      !ValueMember("previousJson", a.has_previous_json(), a.previous_json(),
                   first)) {
    return false;
  }
  if (!a.instances().empty()) {
    Key("instances", first);
    out_ += '[';
    bool first_instance = true;
    for (const v1::Attribute& instance : a.instances()) {
      if (!first_instance) out_ += ',';
      first_instance = false;
      if (!Attribute(instance)) return false;
    }
    out_ += ']';
  }
  if (!a.extra().empty()) {
    Key("extra", first);
    if (!ValueMap(a.extra())) return false;
  }
  if (a.bare()) {
    Key("bare", first);
    out_ += "true";
  }
  out_ += '}';
  return ok_;
}

bool EventJsonWriter::Entity(const v1::Entity& e) {
  out_ += '{';
  bool first = true;
  if (e.has_id()) StringAlways("id", e.id(), first);
  if (e.has_type()) StringAlways("type", e.type(), first);
  if (!e.attrs().empty()) {
    Key("attrs", first);
    if (!AttributeMap(e.attrs())) return false;
  }
  if (!e.types().empty()) {
    Key("types", first);
    out_ += '[';
    bool first_type = true;
    for (const std::string& type : e.types()) {
      if (!first_type) out_ += ',';
      first_type = false;
      String(type);
    }
    out_ += ']';
  }
  StringMember("scope", e.scope(), first);
  StringMember("createdAt", e.created_at(), first);
  StringMember("modifiedAt", e.modified_at(), first);
  StringMember("deletedAt", e.deleted_at(), first);
  if (e.deleted()) {
    Key("deleted", first);
    out_ += "true";
  }
  if (!ValueMember("context", e.has_context(), e.context(), first)) {
    return false;
  }
  if (!e.values().empty()) {
    Key("values", first);
    out_ += '[';
    bool first_value = true;
    for (const Value& value : e.values()) {
      if (!first_value) out_ += ',';
      first_value = false;
      if (!WriteValue(value)) return false;
    }
    out_ += ']';
  }
  if (!ValueMember("legacyStatus", e.has_legacy_status(), e.legacy_status(),
                   first)) {
    return false;
  }
  if (!e.extra().empty()) {
    Key("extra", first);
    if (!ValueMap(e.extra())) return false;
  }
  if (!ValueMember("geometry", e.has_geometry(), e.geometry(), first)) {
    return false;
  }
  out_ += '}';
  return ok_;
}

bool EventJsonWriter::Event(const v1::NgsiEvent& event) {
  out_ += '{';
  bool first = true;
  if (event.sequence() != 0) {
    Key("sequence", first);
    absl::StrAppend(&out_, "\"", event.sequence(), "\"");
  }
  if (!TimestampMember("receivedAt", event.has_received_at(),
                       event.received_at(), first) ||
      !TimestampMember("notifiedAt", event.has_notified_at(),
                       event.notified_at(), first)) {
    return false;
  }
  StringMember("subscriptionId", event.subscription_id(), first);
  StringMember("service", event.service(), first);
  StringMember("servicePath", event.service_path(), first);
  StringMember("correlator", event.correlator(), first);
  if (event.flavor() != 0) {
    if (!v1::Flavor_IsValid(event.flavor())) return false;
    Key("flavor", first);
    String(v1::Flavor_Name(event.flavor()));
  }
  if (event.format() != 0) {
    if (!v1::Format_IsValid(event.format())) return false;
    Key("format", first);
    String(v1::Format_Name(event.format()));
  }
  if (!event.entities().empty()) {
    Key("entities", first);
    out_ += '[';
    bool first_entity = true;
    for (const v1::Entity& entity : event.entities()) {
      if (!first_entity) out_ += ',';
      first_entity = false;
      if (!Entity(entity)) return false;
    }
    out_ += ']';
  }
  if (!event.contexts().empty()) {
    Key("contexts", first);
    out_ += '[';
    bool first_context = true;
    for (const Value& context : event.contexts()) {
      if (!first_context) out_ += ',';
      first_context = false;
      if (!WriteValue(context)) return false;
    }
    out_ += ']';
  }
  StringMember("notificationId", event.notification_id(), first);
  StringMember("contentType", event.content_type(), first);
  StringMember("body", event.body(), first);
  StringMember("method", event.method(), first);
  StringMember("path", event.path(), first);
  StringMember("query", event.query(), first);
  if (!event.headers().empty()) {
    Key("headers", first);
    out_ += '{';
    bool first_header = true;
    for (const auto& [name, value] : event.headers()) {
      if (!first_header) out_ += ',';
      first_header = false;
      String(name);
      out_ += ':';
      String(value);
    }
    out_ += '}';
  }
  StringMember("attrsFormat", event.attrs_format(), first);
  StringMember("originator", event.originator(), first);
  if (event.backfill()) {
    Key("backfill", first);
    out_ += "true";
  }
  if (!event.extra().empty()) {
    Key("extra", first);
    if (!ValueMap(event.extra())) return false;
  }
  out_ += '}';
  return ok_;
}

}  // namespace

std::string EventToJsonLineByProtobufForTest(const v1::NgsiEvent& event) {
  return EventToJsonLineByProtobuf(event);
}

std::string EventToJsonLine(const v1::NgsiEvent& event) {
  std::string line;
  line.reserve(1024);
  if (EventJsonWriter(line).Event(event)) return line;
  return EventToJsonLineByProtobuf(event);
}

absl::StatusOr<v1::NgsiEvent> EventFromJsonLine(absl::string_view line) {
  v1::NgsiEvent event;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;  // newer receivers may add fields
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(line.data(), line.size()), &event,
      options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad event-json line: ", status.ToString()));
  }
  return event;
}

}  // namespace ngsi_bridge::common
