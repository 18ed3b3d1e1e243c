#include "replier-service/batch_planner.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"

namespace ngsi_bridge::replier {

BatchPlan PlanBatches(const std::vector<PlannedEntity>& entities,
                      const BatchLimits& limits) {
  BatchPlan plan;
  std::vector<size_t> current;
  absl::flat_hash_set<absl::string_view> ids;  // of `entities`, which outlive it
  int64_t body_bytes = 0;
  const auto close = [&] {
    if (current.empty()) return;
    plan.batches.push_back(std::move(current));
    current.clear();
    ids.clear();
  };
  const int64_t envelope = static_cast<int64_t>(limits.envelope_bytes);
  for (const PlannedEntity& entity : entities) {
    const int64_t bytes = static_cast<int64_t>(entity.bytes);
    // Strictly below the limit: brokers differ on whether "at" is allowed.
    if (envelope + bytes >= limits.max_bytes) {
      plan.too_large.push_back(entity.index);
      continue;
    }
    const int64_t with_entity =
        current.empty() ? envelope + bytes : body_bytes + 1 + bytes;
    if (!current.empty() &&
        (with_entity >= limits.max_bytes ||
         static_cast<int>(current.size()) >= limits.max_entities ||
         ids.count(entity.id) > 0)) {
      close();
    }
    body_bytes = current.empty() ? envelope + bytes : body_bytes + 1 + bytes;
    current.push_back(entity.index);
    ids.insert(entity.id);
  }
  close();
  return plan;
}

}  // namespace ngsi_bridge::replier
