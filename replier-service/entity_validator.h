#pragma once

#include "absl/status/status.h"
#include "ngsi_bridge/v1/ngsi.pb.h"
#include "ngsi_bridge/v1/replier.pb.h"

namespace ngsi_bridge::replier {

// Checks one entity against the broker's rules before it is sent, so a bad
// entity is rejected alone instead of failing its whole batch (Orion answers
// 400 for the batch and writes nothing).
//
// NGSIv2 (Orion): id, type, attribute and metadata names and types are
// printable ASCII of 1..256 characters without whitespace, & ? / # nor the
// forbidden < > " ' = ; ( ); string values (nested ones included) contain
// none of the forbidden characters unless the attribute's type is
// TextUnrestricted. NGSI-LD: the id is a URI (scheme ":" ...); names and
// types are printable and free of forbidden characters; values are free.
//
// OK, or kInvalidArgument whose message names the field and the bad value.
// Pure function, thread-safe.
absl::Status ValidateEntity(const v1::Entity& entity, v1::Flavor flavor,
                            v1::Operation operation);

}  // namespace ngsi_bridge::replier
