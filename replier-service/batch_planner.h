#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ngsi_bridge::replier {

// One rendered entity as the planner sees it.
struct PlannedEntity {
  size_t index = 0;   // caller's position (results go back by it)
  size_t bytes = 0;   // rendered JSON size
  std::string id;     // at most once per batch
};

struct BatchLimits {
  int max_entities = 1000;
  int64_t max_bytes = 1 << 20;
  // Bytes of the body around the entity list ({"actionType":..,
  // "entities":[ ... ]} or [ ... ]); one comma between entities is added.
  size_t envelope_bytes = 0;
};

struct BatchPlan {
  // Indexes per request, in input order; entity order is kept across
  // batches too, so a later write to an entity is sent after an earlier one.
  std::vector<std::vector<size_t>> batches;
  // Entities whose body alone would exceed max_bytes.
  std::vector<size_t> too_large;
};

// Greedy, order-keeping split: a batch closes when the next entity would
// push the body to max_bytes or beyond, reach max_entities + 1, or repeat an
// id already in the batch (so a broker answer that names an entity by id is
// never ambiguous, and NGSI-LD brokers that reject duplicates never see
// one). Pure, thread-safe.
BatchPlan PlanBatches(const std::vector<PlannedEntity>& entities,
                      const BatchLimits& limits);

}  // namespace ngsi_bridge::replier
