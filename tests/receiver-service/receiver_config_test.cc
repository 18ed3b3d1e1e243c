#include "receiver-service/receiver_config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ngsi_bridge::receiver {
namespace {

using ::testing::HasSubstr;

TEST(ReceiverConfigTest, DefaultsAreValid) {
  EXPECT_TRUE(ReceiverConfig().Validate().ok());
}

TEST(ReceiverConfigTest, RejectsPortOutOfRangeNamingFlagAndValue) {
  ReceiverConfig config;
  config.http_port = 70000;
  const absl::Status status = config.Validate();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("--http_port"));
  EXPECT_THAT(status.message(), HasSubstr("70000"));
}

TEST(ReceiverConfigTest, RejectsWorkerNiceOutsideZeroToNineteen) {
  for (const int nice : {-1, 20}) {
    ReceiverConfig config;
    config.http_worker_nice = nice;
    const absl::Status status = config.Validate();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr("--http_worker_nice"));
  }
  ReceiverConfig config;
  config.http_worker_nice = 0;
  EXPECT_TRUE(config.Validate().ok());
}

TEST(ReceiverConfigTest, RejectsNegativeParseConcurrency) {
  ReceiverConfig config;
  config.parse_concurrency = -1;
  EXPECT_THAT(config.Validate().message(), HasSubstr("--parse_concurrency"));
  config.parse_concurrency = 0;  // one per core
  EXPECT_TRUE(config.Validate().ok());
}

TEST(ReceiverConfigTest, RejectsUnknownLineFormat) {
  ReceiverConfig config;
  config.line_listeners = {{9998, "xml"}};
  EXPECT_THAT(config.Validate().message(), HasSubstr("'xml'"));
}

TEST(ReceiverConfigTest, ParsesLineListenerPortAndFormat) {
  LineListenerConfig listener;
  ASSERT_TRUE(ParseLineListener("9999:fpc", listener).ok());
  EXPECT_EQ(listener.port, 9999);
  EXPECT_EQ(listener.format, "fpc");
  EXPECT_FALSE(ParseLineListener("9999", listener).ok());
  EXPECT_FALSE(ParseLineListener("x:body", listener).ok());
  EXPECT_FALSE(ParseLineListener("1:nope", listener).ok());
}

}  // namespace
}  // namespace ngsi_bridge::receiver
