#include "common/ngsi_json.h"

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
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

absl::StatusOr<nlohmann::json> ParseJson(absl::string_view text,
                                         const JsonLimits& limits) {
  if (absl::Status utf8 = ValidateUtf8(text); !utf8.ok()) return utf8;
  bool too_deep = false;
  // The parser callback sees every nesting level as it opens; discarding
  // the value keeps memory bounded once the limit is crossed.
  const nlohmann::json::parser_callback_t check_depth =
      [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
        if ((event == nlohmann::json::parse_event_t::object_start ||
             event == nlohmann::json::parse_event_t::array_start) &&
            depth >= limits.max_depth) {
          too_deep = true;
          return false;
        }
        return !too_deep;
      };
  nlohmann::json doc = nlohmann::json::parse(text.begin(), text.end(),
                                             check_depth,
                                             /*allow_exceptions=*/false);
  if (too_deep) {
    return absl::InvalidArgumentError(
        absl::StrCat("JSON nesting deeper than ", limits.max_depth));
  }
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

std::string EventToJsonLine(const v1::NgsiEvent& event) {
  std::string line;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = false;  // camelCase, as documented
  // Printing only fails for unresolvable Any types, which events never hold.
  const auto status =
      google::protobuf::util::MessageToJsonString(event, &line, options);
  (void)status;
  return line;
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
