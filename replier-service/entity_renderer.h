#pragma once

#include <string>
#include <vector>

#include "google/protobuf/struct.pb.h"
#include "ngsi_bridge/v1/ngsi.pb.h"

namespace ngsi_bridge::replier {

// How one entity is rendered for a broker request.
struct RenderOptions {
  v1::Flavor flavor = v1::NGSI_V2;
  // NGSIv2 only: the request goes with options=keyValues, so bare attributes
  // stay bare values. Otherwise a bare value becomes {"value": v} (v2, type
  // inferred by Orion as for keyValues) or {"type":"Property","value": v}
  // (LD; GeoProperty for a GeoJSON geometry).
  bool key_values = false;
  // Only the identity: NGSIv2 {"id","type"} (entity delete), NGSI-LD the id
  // string (entityOperations/delete takes an array of ids).
  bool identity_only = false;
  // NGSI-LD with Content-Type application/ld+json: the @context each entity
  // carries when it has none of its own (NGSI-LD wants it per entity).
  std::vector<google::protobuf::Value> inline_context;
};

// The entity as compact JSON text, ready to be joined into a batch body.
// The lossless inverse of the receiver's parsing: every member the Entity
// and its Attributes hold goes back as the broker sent it (metadata, LD
// sub-properties, object/languageMap/vocab/json, observedAt, unitCode,
// datasetId, multi-attribute instances, unknown members). Broker-managed
// history is left out because no broker accepts it as input: createdAt,
// modifiedAt, deletedAt and previous* members. Pure, thread-safe.
std::string RenderEntity(const v1::Entity& entity,
                         const RenderOptions& options);

// One attribute alone (NGSI-LD per-attribute calls), same rules.
std::string RenderAttribute(const v1::Attribute& attribute,
                            const RenderOptions& options);

// True when the entity has attributes and every one is bare (keyValues).
bool AllAttributesBare(const v1::Entity& entity);

}  // namespace ngsi_bridge::replier
