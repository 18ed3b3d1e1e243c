#include "receiver-service/subscriptions_file.h"

#include <yaml.h>

#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace ngsi_bridge::receiver {
namespace {

using json = nlohmann::json;

// A plain (unquoted) scalar typed as YAML's core schema types it; quoted
// scalars stay strings, so "007" keeps its zeros.
json PlainScalar(const std::string& text) {
  if (text.empty() || text == "~" || text == "null" || text == "Null" ||
      text == "NULL") {
    return nullptr;
  }
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  int64_t integer = 0;
  if (absl::SimpleAtoi(text, &integer)) return integer;
  double number = 0;
  if (text.find_first_of("0123456789") != std::string::npos &&
      absl::SimpleAtod(text, &number)) {
    return number;
  }
  return text;
}

// Turns libyaml's event stream into a JSON value, so the rest of the loader
// reads one tree whatever the file's syntax. libyaml is a C library: no
// exception can escape it.
class YamlToJson {
 public:
  explicit YamlToJson(absl::string_view text) {
    yaml_parser_initialize(&parser_);
    yaml_parser_set_input_string(
        &parser_, reinterpret_cast<const unsigned char*>(text.data()),
        text.size());
  }
  ~YamlToJson() { yaml_parser_delete(&parser_); }

  absl::StatusOr<json> Parse() {
    // A stack of open containers; a pending key per open mapping.
    struct Open {
      json value;
      std::optional<std::string> key;
    };
    std::vector<Open> stack;
    std::optional<json> root;
    bool done = false;
    while (!done) {
      yaml_event_t event;
      if (!yaml_parser_parse(&parser_, &event)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "YAML error at line ", parser_.problem_mark.line + 1, ": ",
            parser_.problem != nullptr ? parser_.problem : "unknown"));
      }
      std::optional<json> value;  // a finished node to place
      const int line = static_cast<int>(event.start_mark.line) + 1;
      switch (event.type) {
        case YAML_STREAM_END_EVENT:
        case YAML_DOCUMENT_END_EVENT:
          // Only the first document counts.
          done = root.has_value() || event.type == YAML_STREAM_END_EVENT;
          break;
        case YAML_ALIAS_EVENT:
          yaml_event_delete(&event);
          return absl::InvalidArgumentError(absl::StrCat(
              "YAML aliases are not supported (line ", line, ")"));
        case YAML_SCALAR_EVENT: {
          std::string text(
              reinterpret_cast<const char*>(event.data.scalar.value),
              event.data.scalar.length);
          value = event.data.scalar.style == YAML_PLAIN_SCALAR_STYLE
                      ? PlainScalar(text)
                      : json(std::move(text));
          break;
        }
        case YAML_SEQUENCE_START_EVENT:
          stack.push_back({json::array(), std::nullopt});
          break;
        case YAML_MAPPING_START_EVENT:
          stack.push_back({json::object(), std::nullopt});
          break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
          value = std::move(stack.back().value);
          stack.pop_back();
          break;
        default:
          break;
      }
      yaml_event_delete(&event);
      if (!value.has_value()) continue;
      if (stack.empty()) {
        root = std::move(*value);
        continue;
      }
      Open& parent = stack.back();
      if (parent.value.is_array()) {
        parent.value.push_back(std::move(*value));
      } else if (!parent.key.has_value()) {
        if (!value->is_string()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "YAML mapping key is not a string (line ", line, ")"));
        }
        parent.key = value->get<std::string>();
      } else {
        parent.value[*parent.key] = std::move(*value);
        parent.key.reset();
      }
    }
    if (!root.has_value()) return json(nullptr);
    return *std::move(root);
  }

 private:
  yaml_parser_t parser_;
};

class SpecReader {
 public:
  explicit SpecReader(std::string who) : who_(std::move(who)) {}

  absl::Status Error(absl::string_view key, absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat(who_, ": '", key, "' ", what));
  }

  absl::Status String(const json& value, absl::string_view key,
                      std::string* out) const {
    if (value.is_string()) {
      *out = value.get<std::string>();
    } else if (value.is_number()) {
      *out = value.dump();  // a port or a numeric id written bare
    } else {
      return Error(key, "must be a string");
    }
    return absl::OkStatus();
  }

  absl::Status Strings(const json& value, absl::string_view key,
                       std::vector<std::string>* out) const {
    if (!value.is_array()) return Error(key, "must be a list of strings");
    out->clear();
    for (const json& item : value) {
      if (!item.is_string()) return Error(key, "must be a list of strings");
      out->push_back(item.get<std::string>());
    }
    return absl::OkStatus();
  }

  absl::Status Entities(const json& value,
                        std::vector<EntitySelector>* out) const {
    if (!value.is_array()) return Error("entities", "must be a list");
    out->clear();
    for (const json& item : value) {
      if (!item.is_object()) {
        return Error("entities", "must be a list of mappings");
      }
      EntitySelector selector;
      for (auto it = item.begin(); it != item.end(); ++it) {
        const std::string& key = it.key();
        if (key == "id") {
          NB_RETURN_IF_ERROR(String(it.value(), key, &selector.id));
        } else if (key == "idPattern" || key == "id_pattern") {
          NB_RETURN_IF_ERROR(String(it.value(), key, &selector.id_pattern));
        } else if (key == "type") {
          NB_RETURN_IF_ERROR(String(it.value(), key, &selector.type));
        } else {
          return Error(key, "is not an entity key (id, idPattern, type)");
        }
      }
      out->push_back(std::move(selector));
    }
    return absl::OkStatus();
  }

  // Applies every member of `doc` to `spec`.
  absl::Status Apply(const json& doc, SubscriptionSpec* spec) const {
    for (auto it = doc.begin(); it != doc.end(); ++it) {
      const std::string& key = it.key();
      const json& value = it.value();
      if (key == "name") {
        NB_RETURN_IF_ERROR(String(value, key, &spec->name));
      } else if (key == "broker" || key == "broker_url") {
        NB_RETURN_IF_ERROR(String(value, key, &spec->broker_url));
        while (!spec->broker_url.empty() && spec->broker_url.back() == '/') {
          spec->broker_url.pop_back();
        }
      } else if (key == "flavor") {
        std::string flavor;
        NB_RETURN_IF_ERROR(String(value, key, &flavor));
        flavor = absl::AsciiStrToLower(flavor);
        if (flavor == "v2" || flavor == "ngsiv2" || flavor == "ngsi_v2") {
          spec->flavor = v1::NGSI_V2;
        } else if (flavor == "ld" || flavor == "ngsi-ld" ||
                   flavor == "ngsi_ld") {
          spec->flavor = v1::NGSI_LD;
        } else {
          return Error(key, absl::StrCat("must be v2 or ld, got '", flavor,
                                         "'"));
        }
      } else if (key == "service" || key == "tenant") {
        NB_RETURN_IF_ERROR(String(value, key, &spec->service));
      } else if (key == "service_path") {
        NB_RETURN_IF_ERROR(String(value, key, &spec->service_path));
      } else if (key == "headers") {
        if (!value.is_object()) return Error(key, "must be a mapping");
        for (auto h = value.begin(); h != value.end(); ++h) {
          std::string header;
          NB_RETURN_IF_ERROR(String(h.value(), h.key(), &header));
          spec->headers.emplace_back(h.key(), std::move(header));
        }
      } else if (key == "entities") {
        NB_RETURN_IF_ERROR(Entities(value, &spec->entities));
      } else if (key == "condition_attrs" || key == "watched_attrs") {
        NB_RETURN_IF_ERROR(Strings(value, key, &spec->condition_attrs));
      } else if (key == "notified_attrs" || key == "attrs") {
        NB_RETURN_IF_ERROR(Strings(value, key, &spec->notified_attrs));
      } else if (key == "format") {
        NB_RETURN_IF_ERROR(String(value, key, &spec->format));
      } else if (key == "throttling") {
        if (!value.is_number_integer()) {
          return Error(key, "must be a whole number of seconds");
        }
        spec->throttling_seconds = value.get<int64_t>();
      } else if (key == "expires") {
        NB_RETURN_IF_ERROR(String(value, key, &spec->expires));
      } else if (key == "callback_url") {
        NB_RETURN_IF_ERROR(String(value, key, &spec->callback_url));
      } else if (key == "description") {
        NB_RETURN_IF_ERROR(String(value, key, &spec->description));
      } else if (key == "ld_context") {
        NB_RETURN_IF_ERROR(String(value, key, &spec->ld_context));
      } else {
        return Error(key, "is not a subscription key");
      }
    }
    return absl::OkStatus();
  }

 private:
  const std::string who_;
};

}  // namespace

absl::StatusOr<std::vector<SubscriptionSpec>> ParseSubscriptionsText(
    absl::string_view text, absl::string_view origin) {
  YamlToJson reader(text);
  absl::StatusOr<json> doc = reader.Parse();
  if (!doc.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": ", doc.status().message()));
  }
  SubscriptionSpec defaults;
  const json* list = &*doc;
  if (doc->is_object()) {
    for (auto it = doc->begin(); it != doc->end(); ++it) {
      if (it.key() != "defaults" && it.key() != "subscriptions") {
        return absl::InvalidArgumentError(absl::StrCat(
            origin, ": unknown top-level key '", it.key(),
            "' (want defaults, subscriptions)"));
      }
    }
    if (const auto d = doc->find("defaults"); d != doc->end()) {
      if (!d->is_object()) {
        return absl::InvalidArgumentError(
            absl::StrCat(origin, ": 'defaults' must be a mapping"));
      }
      NB_RETURN_IF_ERROR(
          SpecReader(absl::StrCat(origin, ": defaults")).Apply(*d, &defaults));
    }
    const auto s = doc->find("subscriptions");
    if (s == doc->end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": no 'subscriptions' list"));
    }
    list = &*s;
  }
  if (list->is_null()) return std::vector<SubscriptionSpec>{};
  if (!list->is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": 'subscriptions' must be a list"));
  }
  std::vector<SubscriptionSpec> specs;
  std::set<std::string> names;
  for (size_t i = 0; i < list->size(); ++i) {
    const json& item = (*list)[i];
    const std::string who = absl::StrCat(origin, ": subscriptions[", i, "]");
    if (!item.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(who, " must be a mapping"));
    }
    SubscriptionSpec spec = defaults;
    NB_RETURN_IF_ERROR(SpecReader(who).Apply(item, &spec));
    if (absl::Status status = ValidateSubscriptionSpec(spec); !status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": ", status.message()));
    }
    if (!names.insert(spec.name).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          origin, ": subscription name '", spec.name, "' repeats"));
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

absl::StatusOr<std::vector<SubscriptionSpec>> LoadSubscriptionsFile(
    const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read subscriptions file '", path, "'"));
  }
  std::stringstream text;
  text << in.rdbuf();
  return ParseSubscriptionsText(text.str(), path);
}

}  // namespace ngsi_bridge::receiver
