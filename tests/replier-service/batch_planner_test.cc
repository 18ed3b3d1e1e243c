#include "replier-service/batch_planner.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ngsi_bridge::replier {
namespace {

using ::testing::ElementsAre;

std::vector<PlannedEntity> Uniform(size_t count, size_t bytes) {
  std::vector<PlannedEntity> out;
  for (size_t i = 0; i < count; ++i) {
    out.push_back({i, bytes, "E" + std::to_string(i)});
  }
  return out;
}

int64_t BodyBytes(const std::vector<size_t>& batch,
                  const std::vector<PlannedEntity>& all, size_t envelope) {
  int64_t total = static_cast<int64_t>(envelope);
  for (size_t k = 0; k < batch.size(); ++k) {
    total += static_cast<int64_t>(all[batch[k]].bytes) + (k > 0 ? 1 : 0);
  }
  return total;
}

TEST(BatchPlannerTest, SplitsTenThousandEntitiesUnderOneMegabyteInOrder) {
  const auto entities = Uniform(10000, 300);
  BatchLimits limits;
  limits.max_entities = 100000;
  limits.max_bytes = 1 << 20;
  limits.envelope_bytes = 40;
  const BatchPlan plan = PlanBatches(entities, limits);
  EXPECT_TRUE(plan.too_large.empty());
  size_t next = 0;
  for (const auto& batch : plan.batches) {
    EXPECT_LT(BodyBytes(batch, entities, 40), limits.max_bytes);
    for (const size_t index : batch) EXPECT_EQ(index, next++);
  }
  EXPECT_EQ(next, 10000u);
  // 301 bytes per entity: 3483 fit in 1 MiB, so 3 batches.
  EXPECT_EQ(plan.batches.size(), 3u);
}

TEST(BatchPlannerTest, HonoursEntityCap) {
  BatchLimits limits;
  limits.max_entities = 100;
  const BatchPlan plan = PlanBatches(Uniform(250, 10), limits);
  ASSERT_EQ(plan.batches.size(), 3u);
  EXPECT_EQ(plan.batches[0].size(), 100u);
  EXPECT_EQ(plan.batches[2].size(), 50u);
}

TEST(BatchPlannerTest, OversizedEntityIsSetAsideAlone) {
  auto entities = Uniform(3, 10);
  entities[1].bytes = 2000;
  BatchLimits limits;
  limits.max_bytes = 1000;
  const BatchPlan plan = PlanBatches(entities, limits);
  EXPECT_THAT(plan.too_large, ElementsAre(1));
  ASSERT_EQ(plan.batches.size(), 1u);
  EXPECT_THAT(plan.batches[0], ElementsAre(0, 2));
}

TEST(BatchPlannerTest, RepeatedIdStartsANewBatch) {
  std::vector<PlannedEntity> entities = {
      {0, 10, "A"}, {1, 10, "B"}, {2, 10, "A"}, {3, 10, "C"}};
  const BatchPlan plan = PlanBatches(entities, BatchLimits{});
  ASSERT_EQ(plan.batches.size(), 2u);
  EXPECT_THAT(plan.batches[0], ElementsAre(0, 1));
  EXPECT_THAT(plan.batches[1], ElementsAre(2, 3));
}

TEST(BatchPlannerTest, BodyExactlyAtLimitIsSplit) {
  // envelope 2 + 3 + 1 + 3 = 9 == max_bytes: must not be one batch.
  BatchLimits limits;
  limits.max_bytes = 9;
  limits.envelope_bytes = 2;
  const BatchPlan plan = PlanBatches(Uniform(2, 3), limits);
  EXPECT_EQ(plan.batches.size(), 2u);
}

}  // namespace
}  // namespace ngsi_bridge::replier
