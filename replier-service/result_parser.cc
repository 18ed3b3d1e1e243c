#include "replier-service/result_parser.h"

#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"

namespace ngsi_bridge::replier {
namespace {

using nlohmann::json;

json ParseQuietly(absl::string_view body) {
  return json::parse(body.begin(), body.end(), /*cb=*/nullptr,
                     /*allow_exceptions=*/false);
}

std::string StringMember(const json& doc, const char* name) {
  const auto it = doc.find(name);
  if (it == doc.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

std::string ProblemText(const json& error) {
  const std::string title = StringMember(error, "title");
  const std::string detail = StringMember(error, "detail");
  if (title.empty()) return detail;
  if (detail.empty()) return title;
  return absl::StrCat(title, ": ", detail);
}

bool Is2xx(int status) { return status >= 200 && status < 300; }

}  // namespace

absl::StatusCode CodeForHttpStatus(int http_status, absl::string_view text) {
  if (Is2xx(http_status)) return absl::StatusCode::kOk;
  switch (http_status) {
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 409:
      return absl::StatusCode::kAlreadyExists;
    case 422:
      return absl::StrContains(text, "already exist")
                 ? absl::StatusCode::kAlreadyExists
                 : absl::StatusCode::kFailedPrecondition;
    case 429:
      return absl::StatusCode::kUnavailable;
    default:
      break;
  }
  if (http_status >= 500) return absl::StatusCode::kUnavailable;
  return absl::StatusCode::kInvalidArgument;
}

std::string BrokerErrorText(absl::string_view body) {
  const json doc = ParseQuietly(body);
  if (doc.is_object()) {
    const std::string error = StringMember(doc, "error");
    const std::string description = StringMember(doc, "description");
    if (!error.empty() || !description.empty()) {
      return description.empty() ? error
                                 : absl::StrCat(error, ": ", description);
    }
    const std::string problem = ProblemText(doc);
    if (!problem.empty()) return problem;
  }
  return std::string(body.substr(0, 1024));
}

absl::Status StatusFromOrionResponse(int http_status, absl::string_view body) {
  if (Is2xx(http_status)) return absl::OkStatus();
  const std::string text = BrokerErrorText(body);
  return absl::Status(
      CodeForHttpStatus(http_status, text),
      absl::StrCat("broker answered ", http_status,
                   text.empty() ? "" : ": ", text));
}

absl::StatusOr<V2FailureDescription> ParseV2FailureDescription(
    absl::string_view description) {
  const auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "not an Orion partial-failure description: '", description, "'"));
  };
  const size_t colon = description.find(": ");
  if (colon == absl::string_view::npos) return bad();
  V2FailureDescription out;
  const absl::string_view kind = description.substr(0, colon);
  if (absl::EndsWith(kind, "already exist")) {
    out.already_exist = true;
  } else if (!absl::EndsWith(kind, "do not exist")) {
    return bad();
  }
  // Items are separated by ", " outside brackets: attribute lists inside
  // "[ A, B ]" have commas of their own.
  absl::string_view rest = description.substr(colon + 2);
  std::vector<absl::string_view> items;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == '[') ++depth;
    if (rest[i] == ']') --depth;
    if (depth == 0 && rest[i] == ',' && i + 1 < rest.size() &&
        rest[i + 1] == ' ') {
      items.push_back(rest.substr(start, i - start));
      start = i + 2;
    }
  }
  items.push_back(rest.substr(start));
  for (absl::string_view item : items) {
    item = absl::StripAsciiWhitespace(item);
    if (!absl::EndsWith(item, "]")) return bad();
    const size_t open = item.rfind('[');
    if (open == absl::string_view::npos) return bad();
    const absl::string_view inside = absl::StripAsciiWhitespace(
        item.substr(open + 1, item.size() - open - 2));
    absl::string_view who = absl::StripAsciiWhitespace(item.substr(0, open));
    // Orion writes "E1/T - [ C ]" but also "E3/T [entity itself]".
    if (absl::ConsumeSuffix(&who, " -")) {
      who = absl::StripAsciiWhitespace(who);
    }
    if (who.empty()) return bad();
    V2FailureItem failure;
    // Orion forbids '/' in ids and types, so the first one separates them.
    const size_t slash = who.find('/');
    failure.id = std::string(who.substr(0, slash));
    if (slash != absl::string_view::npos) {
      failure.type = std::string(who.substr(slash + 1));
    }
    if (inside == "entity itself") {
      failure.entity_itself = true;
    } else {
      for (absl::string_view attr : absl::StrSplit(inside, ',')) {
        attr = absl::StripAsciiWhitespace(attr);
        if (!attr.empty()) failure.attrs.emplace_back(attr);
      }
      if (failure.attrs.empty()) return bad();
    }
    out.items.push_back(std::move(failure));
  }
  return out;
}

Attribution AttributeV2Response(const std::vector<SentEntity>& batch,
                                int http_status, absl::string_view body) {
  Attribution result;
  result.outcomes.resize(batch.size());
  if (Is2xx(http_status)) {
    for (auto& outcome : result.outcomes) {
      outcome = EntityOutcome{};
      outcome->http_status = http_status;
    }
    return result;
  }
  const json doc = ParseQuietly(body);
  const std::string description =
      doc.is_object() ? StringMember(doc, "description") : "";
  const std::string text = BrokerErrorText(body);
  const auto whole_batch = [&](absl::string_view why) {
    EntityOutcome outcome;
    outcome.code = CodeForHttpStatus(http_status, text);
    outcome.http_status = http_status;
    outcome.broker_error = text;
    outcome.message = std::string(why);
    for (auto& slot : result.outcomes) slot = outcome;
  };
  const bool may_be_partial = http_status == 404 || http_status == 422;
  absl::StatusOr<V2FailureDescription> parsed =
      may_be_partial ? ParseV2FailureDescription(description)
                     : absl::InvalidArgumentError("not partial");
  if (!parsed.ok()) {
    // A single entity owns whatever the broker said.
    if (batch.size() == 1) {
      whole_batch(absl::StrCat("broker answered ", http_status));
      return result;
    }
    result.complete = false;
    return result;
  }
  std::map<std::string, size_t> by_id;  // ids are unique within a batch
  for (size_t i = 0; i < batch.size(); ++i) by_id[batch[i].id] = i;
  for (const V2FailureItem& item : parsed->items) {
    const auto it = by_id.find(item.id);
    if (it == by_id.end() ||
        (!item.type.empty() && !batch[it->second].type.empty() &&
         item.type != batch[it->second].type)) {
      result.complete = false;  // a name we did not send: text misread
      continue;
    }
    EntityOutcome outcome;
    outcome.http_status = http_status;
    outcome.broker_error = text;
    if (item.entity_itself) {
      outcome.code = parsed->already_exist ? absl::StatusCode::kAlreadyExists
                                           : absl::StatusCode::kNotFound;
      outcome.message = parsed->already_exist ? "entity already exists"
                                              : "entity does not exist";
    } else {
      outcome.code = parsed->already_exist
                         ? absl::StatusCode::kAlreadyExists
                         : absl::StatusCode::kFailedPrecondition;
      outcome.failed_attrs = item.attrs;
      outcome.message = absl::StrCat(
          parsed->already_exist ? "attributes already exist: "
                                : "attributes do not exist: ",
          absl::StrJoin(item.attrs, ", "),
          " (the entity's other attributes were written)");
    }
    result.outcomes[it->second] = std::move(outcome);
  }
  if (!result.complete) return result;
  // op/update is not transactional: what the text does not name was done.
  for (auto& slot : result.outcomes) {
    if (!slot.has_value()) {
      slot = EntityOutcome{};
      slot->http_status = http_status;
      slot->message = "written (the broker named only other entities)";
    }
  }
  return result;
}

Attribution AttributeLdResponse(const std::vector<SentEntity>& batch,
                                int http_status, absl::string_view body) {
  Attribution result;
  result.outcomes.resize(batch.size());
  if (http_status != 207) {
    if (Is2xx(http_status)) {
      for (auto& slot : result.outcomes) {
        slot = EntityOutcome{};
        slot->http_status = http_status;
      }
      return result;
    }
    if (batch.size() != 1) {
      result.complete = false;
      return result;
    }
    const std::string text = BrokerErrorText(body);
    EntityOutcome outcome;
    outcome.code = CodeForHttpStatus(http_status, text);
    outcome.http_status = http_status;
    outcome.broker_error = text;
    outcome.message = absl::StrCat("broker answered ", http_status);
    result.outcomes[0] = outcome;
    return result;
  }
  const json doc = ParseQuietly(body);
  const auto errors = doc.is_object() ? doc.find("errors") : doc.end();
  if (!doc.is_object() ||
      (errors != doc.end() && !errors->is_array())) {
    result.complete = false;
    return result;
  }
  std::map<std::string, size_t> by_id;
  for (size_t i = 0; i < batch.size(); ++i) by_id[batch[i].id] = i;
  if (errors != doc.end()) {
    for (const json& entry : *errors) {
      if (!entry.is_object()) continue;
      const auto it = by_id.find(StringMember(entry, "entityId"));
      // Placeholders such as "No Entity::id" name nothing we sent.
      if (it == by_id.end()) continue;
      const auto error = entry.find("error");
      EntityOutcome outcome;
      int status = 400;
      if (error != entry.end() && error->is_object()) {
        const auto s = error->find("status");
        if (s != error->end() && s->is_number_integer()) {
          status = s->get<int>();
        }
        outcome.broker_error = ProblemText(*error);
      }
      outcome.http_status = status;
      outcome.code = CodeForHttpStatus(status, outcome.broker_error);
      if (outcome.code == absl::StatusCode::kOk) {
        outcome.code = absl::StatusCode::kUnknown;
      }
      outcome.message = absl::StrCat("broker reported ", status);
      result.outcomes[it->second] = std::move(outcome);
    }
  }
  for (auto& slot : result.outcomes) {
    if (!slot.has_value()) {
      slot = EntityOutcome{};
      slot->http_status = 207;
    }
  }
  return result;
}

}  // namespace ngsi_bridge::replier
