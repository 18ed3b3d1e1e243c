#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ngsi_bridge::replier {

// What a broker answered about one entity of a batch.
struct EntityOutcome {
  absl::StatusCode code = absl::StatusCode::kOk;
  int http_status = 0;
  std::string message;       // ours: what happened, for people
  std::string broker_error;  // the broker's text, verbatim
  std::vector<std::string> failed_attrs;
};

// An entity of a sent batch, as the broker may name it.
struct SentEntity {
  std::string id;
  std::string type;  // "" when the request had none
};

// Maps a broker HTTP status to the code an entity result carries:
// 2xx OK; 400/411/413/415 and other 4xx kInvalidArgument; 401
// kUnauthenticated; 403 kPermissionDenied; 404 kNotFound; 409
// kAlreadyExists; 422 kFailedPrecondition, or kAlreadyExists when `text`
// says "already exist"; 429 and 5xx kUnavailable.
absl::StatusCode CodeForHttpStatus(int http_status, absl::string_view text);

// The Status form of a broker answer (STYLE's edge mapping): OK for 2xx,
// else CodeForHttpStatus() with the broker's error text as message.
absl::Status StatusFromOrionResponse(int http_status, absl::string_view body);

// The readable error text of an error body: NGSIv2 {"error","description"}
// → "error: description"; NGSI-LD ProblemDetails → "title: detail"; any
// other body verbatim (truncated to 1 kB).
std::string BrokerErrorText(absl::string_view body);

// --- NGSIv2 op/update -----------------------------------------------------

// One entity named in an Orion partial-failure description.
struct V2FailureItem {
  std::string id;
  std::string type;            // "" when Orion printed none
  bool entity_itself = false;  // "[entity itself]": the entity is missing
  std::vector<std::string> attrs;
};

struct V2FailureDescription {
  // "do not exist" or "already exist" (the attributes, or the entity).
  bool already_exist = false;
  std::vector<V2FailureItem> items;
};

// Parses Orion's free text, e.g. "do not exist: E1/T - [ C ], E3/T [entity
// itself]" or "one or more of the attributes in the request already exist:
// E1/T1 - [ A1 ]". kInvalidArgument when the text does not have that shape.
absl::StatusOr<V2FailureDescription> ParseV2FailureDescription(
    absl::string_view description);

// Per-entity results of an op/update answer for `batch` (in order).
// `complete` is false when the answer could not be attributed with
// certainty (unparsable text, a name matching no sent entity); then only
// the entries that could are set and the caller confirms the rest (by
// splitting the batch when the operation is idempotent).
struct Attribution {
  std::vector<std::optional<EntityOutcome>> outcomes;
  bool complete = true;
};
Attribution AttributeV2Response(const std::vector<SentEntity>& batch,
                                int http_status, absl::string_view body);

// --- NGSI-LD entityOperations ---------------------------------------------

// Per-entity results of a batch answer: 201 (array of created ids) and 204
// are all OK; 207 is read as {"success":[ids],"errors":[{"entityId",
// "error":ProblemDetails}]}, an entity listed in neither counting as OK
// (the broker reported no error); an unparsable 207 is incomplete.
Attribution AttributeLdResponse(const std::vector<SentEntity>& batch,
                                int http_status, absl::string_view body);

}  // namespace ngsi_bridge::replier
