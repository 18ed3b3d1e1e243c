// libFuzzer target: the replier's request builder. Entities come either from
// a notification (JSON → Entity, as a Spark job writes back what it read) or
// straight from protobuf bytes (any Entity a client can send), then are
// rendered for both flavors and every option, and planned into batches.
// Every rendering must be byte for byte what the DOM renderer it replaced
// gives (tests/testing/dom_entity_renderer.h); a difference aborts.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "ngsi_bridge/v1/ngsi.pb.h"
#include "receiver-service/notification_parser.h"
#include "replier-service/batch_planner.h"
#include "replier-service/entity_renderer.h"
#include "tests/fuzz/fuzz_notification.h"
#include "tests/testing/dom_entity_renderer.h"

namespace {

namespace nb = ngsi_bridge;

void ExpectSame(const std::string& direct, const std::string& dom) {
  if (direct == dom) return;
  std::fprintf(stderr, "direct: %s\ndom:    %s\n", direct.c_str(), dom.c_str());
  std::abort();
}

void RenderAll(const std::vector<nb::v1::Entity>& entities) {
  std::vector<nb::replier::PlannedEntity> planned;
  for (const nb::v1::Entity& entity : entities) {
    for (nb::v1::Flavor flavor : {nb::v1::NGSI_V2, nb::v1::NGSI_LD}) {
      for (int bits = 0; bits < 4; ++bits) {
        nb::replier::RenderOptions options;
        options.flavor = flavor;
        options.key_values = (bits & 1) != 0;
        options.identity_only = (bits & 2) != 0;
        const std::string json = nb::replier::RenderEntity(entity, options);
        ExpectSame(json, nb::testing::RenderEntityByDom(entity, options));
        if (bits == 0 && flavor == nb::v1::NGSI_V2) {
          nb::replier::PlannedEntity item;
          item.index = planned.size();
          item.bytes = json.size();
          item.id = entity.id();
          planned.push_back(std::move(item));
        }
      }
      for (const auto& [name, attribute] : entity.attrs()) {
        nb::replier::RenderOptions options;
        options.flavor = flavor;
        ExpectSame(nb::replier::RenderAttribute(attribute, options),
                   nb::testing::RenderAttributeByDom(attribute, options));
      }
    }
    nb::replier::AllAttributesBare(entity);
  }
  nb::replier::BatchLimits limits;
  limits.max_entities = 3;
  limits.max_bytes = 4096;
  limits.envelope_bytes = 40;
  nb::replier::PlanBatches(planned, limits);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::vector<nb::v1::Entity> entities;
  if (data[0] == 'P') {  // "P" + serialized v1::Entity
    nb::v1::Entity entity;
    if (!entity.ParseFromArray(data + 1, static_cast<int>(size - 1))) return 0;
    entities.push_back(std::move(entity));
  } else {
    auto event = nb::receiver::ParseNotification(
        nb::fuzz::NotificationFromInput(data, size));
    if (!event.ok()) return 0;
    entities.assign(event->entities().begin(), event->entities().end());
  }
  RenderAll(entities);
  return 0;
}
