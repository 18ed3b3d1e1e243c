#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/map.h"
#include "google/protobuf/struct.pb.h"
#include "ngsi_bridge/v1/ngsi.pb.h"
#include "nlohmann/json_fwd.hpp"

// Attribute-level readers shared by the NGSIv2 and NGSI-LD notification
// readers. Lossless by construction: a member that has no field of its own
// goes to `extra` (or, for NGSI-LD, to `metadata` as a sub-property), and a
// value that is not in attribute form is kept with `bare = true`. Pure
// functions: thread-safe, never block.
namespace ngsi_bridge::receiver {

namespace v1 = ::ngsi_bridge::v1;

using ValueMap = google::protobuf::Map<std::string, google::protobuf::Value>;

// How NGSI-LD attributes are rendered in one notification.
enum class LdForm {
  kNormalized,  // {"type":"Property","value":...}, always objects
  kConcise,     // "type" omitted; a bare value where nothing else is said
  kSimplified,  // bare values only (keyValues)
};

// Copies `json` into `*field` when it is a non-empty string; anything else
// (wrong type, or "" which a proto3 string cannot tell from unset) goes to
// extra[key] so it is not lost.
void SetStringOrExtra(const nlohmann::json& json, absl::string_view key,
                      std::string* field, ValueMap* extra);

// `attr` as a bare value (keyValues, simplified, concise short form).
void SetBareValue(const nlohmann::json& json, v1::Attribute* attr);

// An NGSIv2 normalized attribute ({"type","value","metadata"}) or metadata
// item; a non-object is kept bare.
void ParseV2Attribute(const nlohmann::json& json, v1::Attribute* attr);

// An NGSIv1 legacy attribute or metadata item ({"name","type","value",
// "metadatas":[...]}); `name` is not stored (it is the map key). Fails with
// kInvalidArgument when a metadata item has no string name or repeats one.
absl::Status ParseV1Attribute(const nlohmann::json& json, v1::Attribute* attr);

// An NGSI-LD attribute in `form`: Property, Relationship, GeoProperty,
// LanguageProperty, VocabularyProperty, JsonProperty (and anything else)
// with observedAt, unitCode, datasetId, createdAt/modifiedAt/deletedAt,
// lang, previous*; sub-properties into `metadata`; multi-instance arrays
// into `instances`.
void ParseLdAttribute(const nlohmann::json& json, LdForm form,
                      v1::Attribute* attr);

}  // namespace ngsi_bridge::receiver
