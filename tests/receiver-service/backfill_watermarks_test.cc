#include "receiver-service/backfill_watermarks.h"

#include <stdlib.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/scratch_dir.h"

namespace ngsi_bridge::receiver {
namespace {

using ::testing::HasSubstr;


TEST(BackfillWatermarksTest, SurvivesAReopen) {
  const testing::ScratchDir dir;
  const std::string path = dir.PathOf("subscriptions-state.json");
  const absl::Time mark = absl::FromUnixMillis(1795000000123);
  {
    auto marks = BackfillWatermarks::Open(path);
    ASSERT_TRUE(marks.ok()) << marks.status();
    EXPECT_EQ((*marks)->Get("rooms"), std::nullopt);  // first start
    (*marks)->Set("rooms", mark);
    ASSERT_TRUE((*marks)->Save().ok());
  }
  auto reopened = BackfillWatermarks::Open(path);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->Get("rooms"), mark);  // milliseconds kept
  EXPECT_EQ((*reopened)->Get("other"), std::nullopt);
}

TEST(BackfillWatermarksTest, WithoutAPathLivesInMemory) {
  auto marks = BackfillWatermarks::Open("");
  ASSERT_TRUE(marks.ok());
  (*marks)->Set("rooms", absl::UnixEpoch());
  EXPECT_TRUE((*marks)->Save().ok());
  EXPECT_EQ((*marks)->Get("rooms"), absl::UnixEpoch());
}

TEST(BackfillWatermarksTest, RefusesAFileThatIsNotOurs) {
  const testing::ScratchDir dir;
  const std::string path = dir.PathOf("subscriptions-state.json");
  std::ofstream(path) << "[1, 2, 3]";
  auto marks = BackfillWatermarks::Open(path);
  EXPECT_EQ(marks.status().code(), absl::StatusCode::kInvalidArgument);
  std::ofstream(path, std::ios::trunc)
      << R"({"subscriptions":{"rooms":{"watermark":"yesterday"}}})";
  marks = BackfillWatermarks::Open(path);
  EXPECT_THAT(marks.status().message(), HasSubstr("'rooms'"));
}

TEST(BackfillWatermarksTest, SaveFailsWhenTheDirectoryIsGone) {
  auto marks = BackfillWatermarks::Open("/nonexistent/dir/state.json");
  ASSERT_TRUE(marks.ok());
  (*marks)->Set("rooms", absl::Now());
  EXPECT_EQ((*marks)->Save().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace ngsi_bridge::receiver
