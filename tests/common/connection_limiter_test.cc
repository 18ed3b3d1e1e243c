#include "common/connection_limiter.h"

#include "gtest/gtest.h"

namespace ngsi_bridge::common {
namespace {

using Verdict = ConnectionLimiter::Verdict;

TEST(ConnectionLimiterTest, CapsEachSourceOnItsOwn) {
  ConnectionLimiter limiter({/*max_per_source=*/2, /*max_total=*/0});
  EXPECT_EQ(limiter.Acquire("10.0.0.1"), Verdict::kAdmitted);
  EXPECT_EQ(limiter.Acquire("10.0.0.1"), Verdict::kAdmitted);
  EXPECT_EQ(limiter.Acquire("10.0.0.1"), Verdict::kOverSourceLimit);
  EXPECT_EQ(limiter.Acquire("10.0.0.2"), Verdict::kAdmitted);
  EXPECT_EQ(limiter.open_from("10.0.0.1"), 2);
  EXPECT_EQ(limiter.open_count(), 3);
  limiter.Release("10.0.0.1");
  EXPECT_EQ(limiter.Acquire("10.0.0.1"), Verdict::kAdmitted);
}

TEST(ConnectionLimiterTest, CapsTheTotal) {
  ConnectionLimiter limiter({/*max_per_source=*/0, /*max_total=*/2});
  EXPECT_EQ(limiter.Acquire("a"), Verdict::kAdmitted);
  EXPECT_EQ(limiter.Acquire("b"), Verdict::kAdmitted);
  EXPECT_EQ(limiter.Acquire("c"), Verdict::kOverTotalLimit);
  limiter.Release("a");
  EXPECT_EQ(limiter.Acquire("c"), Verdict::kAdmitted);
  EXPECT_EQ(limiter.open_count(), 2);
}

TEST(ConnectionLimiterTest, RefusalsCountNothingAndReleasesForgetSources) {
  ConnectionLimiter limiter({/*max_per_source=*/1, /*max_total=*/1});
  EXPECT_EQ(limiter.Acquire("a"), Verdict::kAdmitted);
  EXPECT_EQ(limiter.Acquire("a"), Verdict::kOverSourceLimit);
  EXPECT_EQ(limiter.Acquire("b"), Verdict::kOverTotalLimit);
  EXPECT_EQ(limiter.open_from("b"), 0);
  limiter.Release("a");
  limiter.Release("a");  // a second release of a gone source is ignored
  EXPECT_EQ(limiter.open_count(), 0);
  EXPECT_EQ(limiter.Acquire("b"), Verdict::kAdmitted);
}

TEST(ConnectionLimiterTest, ZeroMeansNoCap) {
  ConnectionLimiter limiter({});
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(limiter.Acquire("same"), Verdict::kAdmitted);
  }
  EXPECT_EQ(limiter.open_from("same"), 1000);
}

}  // namespace
}  // namespace ngsi_bridge::common
