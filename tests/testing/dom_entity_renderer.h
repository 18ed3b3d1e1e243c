#pragma once

#include <string>

#include "ngsi_bridge/v1/ngsi.pb.h"
#include "replier-service/entity_renderer.h"

// Test-only reference for replier::RenderEntity / RenderAttribute: the same
// rendering built as an nlohmann::json document and dumped, which is what
// the replier did before writing JSON text directly. The two must agree
// byte for byte. Pure, thread-safe.
namespace ngsi_bridge::testing {

namespace v1 = ::ngsi_bridge::v1;

std::string RenderEntityByDom(const v1::Entity& entity,
                              const replier::RenderOptions& options);
std::string RenderAttributeByDom(const v1::Attribute& attribute,
                                 const replier::RenderOptions& options);

}  // namespace ngsi_bridge::testing
