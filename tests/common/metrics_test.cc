#include "common/metrics.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ngsi_bridge::common {
namespace {

using ::testing::HasSubstr;

TEST(MetricsRegistryTest, RendersCountersWithHelpTypeAndLabels) {
  MetricsRegistry registry;
  registry.GetCounter("nb_requests_total", "Requests.", {{"code", "200"}})
      .Increment(3);
  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("# HELP nb_requests_total Requests.\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE nb_requests_total counter\n"));
  EXPECT_THAT(text, HasSubstr("nb_requests_total{code=\"200\"} 3\n"));
}

TEST(MetricsRegistryTest, SameNameAndLabelsReturnTheSameCounter) {
  MetricsRegistry registry;
  Counter& first = registry.GetCounter("c", "h", {{"a", "1"}});
  Counter& second = registry.GetCounter("c", "h", {{"a", "1"}});
  EXPECT_EQ(&first, &second);
  EXPECT_NE(&first, &registry.GetCounter("c", "h", {{"a", "2"}}));
}

TEST(MetricsRegistryTest, HistogramBucketsAreCumulative) {
  MetricsRegistry registry;
  Histogram& histogram = registry.GetHistogram("lat", "h", {}, {1, 2});
  histogram.Observe(0.5);
  histogram.Observe(1.5);
  histogram.Observe(7);
  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("lat_bucket{le=\"1\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("lat_bucket{le=\"2\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("lat_bucket{le=\"+Inf\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("lat_count 3\n"));
  EXPECT_THAT(text, HasSubstr("lat_sum 9\n"));
}

TEST(MetricsRegistryTest, EscapesLabelValues) {
  EXPECT_EQ(FormatLabels({{"path", "a\"b\\c\nd"}}),
            "{path=\"a\\\"b\\\\c\\nd\"}");
}

TEST(MetricsRegistryTest, GaugeCallbacksRenderAtScrapeTime) {
  MetricsRegistry registry;
  double lag = 4;
  registry.AddGaugeCallback("consumer_lag", "Lag.", [&lag] {
    return MetricsRegistry::GaugeSamples{{{{"consumer", "c1"}}, lag}};
  });
  lag = 9;
  EXPECT_THAT(registry.Render(), HasSubstr("consumer_lag{consumer=\"c1\"} 9\n"));
}

}  // namespace
}  // namespace ngsi_bridge::common
