// BatchWriter against an in-process fake broker on 127.0.0.1: how broker
// answers become per-entity results, batch halving, retries and deadlines.
#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/metrics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "replier-service/batch_writer.h"
#include "tests/testing/fake_broker.h"

namespace ngsi_bridge::replier {
namespace {

using ::testing::HasSubstr;
using testing::FakeBroker;

class BatchWriterTest : public ::testing::Test {
 protected:
  void StartWith(FakeBroker::Handler handler, const std::string& options = "") {
    auto broker = FakeBroker::Start(std::move(handler));
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = std::move(*broker);
    ReplierConfig config;
    BrokerConfig v2;
    ASSERT_TRUE(ParseBroker(absl::StrCat("orion=", broker_->url(), options),
                            v2)
                    .ok());
    config.brokers.push_back(v2);
    BrokerConfig ld;
    ASSERT_TRUE(ParseBroker(
                    absl::StrCat("ld=", broker_->url(), ",flavor=ld", options),
                    ld)
                    .ok());
    config.brokers.push_back(ld);
    config.retry.initial_backoff_ms = 5;
    config.retry.max_backoff_ms = 20;
    auto writer = BatchWriter::Create(config, &metrics_);
    ASSERT_TRUE(writer.ok()) << writer.status();
    writer_ = std::move(*writer);
    writer_->Start();
  }

  static v1::WriteRequest Request(const std::string& broker,
                                  v1::Operation operation, int count,
                                  const std::string& prefix = "E") {
    v1::WriteRequest request;
    request.set_broker(broker);
    request.set_operation(operation);
    for (int i = 0; i < count; ++i) {
      v1::Entity* entity = request.add_entities();
      entity->set_id(absl::StrCat(prefix, i));
      entity->set_type("T");
      v1::Attribute& attr = (*entity->mutable_attrs())["A"];
      attr.set_type("Number");
      attr.mutable_value()->set_number_value(i);
    }
    return request;
  }

  static int EntitiesIn(const FakeBroker::Request& request) {
    const auto body = nlohmann::json::parse(request.body, nullptr, false);
    if (body.is_array()) return static_cast<int>(body.size());
    return static_cast<int>(body["entities"].size());
  }

  absl::Time Soon() { return absl::Now() + absl::Seconds(10); }

  common::MetricsRegistry metrics_;
  std::unique_ptr<FakeBroker> broker_;
  std::unique_ptr<BatchWriter> writer_;
};

TEST_F(BatchWriterTest, HalvesABatchTheBrokerRejectsToIsolateTheBadEntity) {
  StartWith([](const FakeBroker::Request& request) {
    if (absl::StrContains(request.body, "\"E5\"")) {
      return FakeBroker::Answer{
          400, R"({"error":"BadRequest","description":"nope"})"};
    }
    return FakeBroker::Answer{};
  });
  auto response =
      writer_->Write(Request("orion", v1::OPERATION_CREATE, 8), Soon());
  ASSERT_TRUE(response.ok()) << response.status();
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(response->results(i).code(), i == 5 ? 3 : 0) << i;
  }
  EXPECT_EQ(response->results(5).broker_error(), "BadRequest: nope");
  // 8 -> 4+4 -> (2+2) -> (1+1): every accepted entity was sent once.
  int accepted = 0;
  for (const auto& request : broker_->requests()) {
    if (!absl::StrContains(request.body, "\"E5\"")) {
      accepted += EntitiesIn(request);
    }
  }
  EXPECT_EQ(accepted, 7);
  EXPECT_EQ(response->broker_calls(), broker_->requests().size());
}

TEST_F(BatchWriterTest, UnattributablePartialFailureIsConfirmedBySplitting) {
  StartWith([](const FakeBroker::Request& request) {
    const auto body = nlohmann::json::parse(request.body, nullptr, false);
    if (body["entities"].size() > 1) {
      return FakeBroker::Answer{
          422,
          R"({"error":"PartialUpdate","description":"do not exist: X/T - [ C ]"})"};
    }
    if (absl::StrContains(request.body, "\"E3\"")) {
      return FakeBroker::Answer{
          422,
          R"({"error":"PartialUpdate","description":"do not exist: E3/T - [ A ]"})"};
    }
    return FakeBroker::Answer{};
  });
  auto response =
      writer_->Write(Request("orion", v1::OPERATION_UPDATE, 6), Soon());
  ASSERT_TRUE(response.ok());
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(response->results(i).code(), i == 3 ? 9 : 0) << i;
  }
  EXPECT_THAT(response->results(3).failed_attrs(), ::testing::ElementsAre("A"));
}

TEST_F(BatchWriterTest, NonIdempotentBatchIsNeverResentToFindWhoFailed) {
  StartWith([](const FakeBroker::Request&) {
    return FakeBroker::Answer{
        422,
        R"({"error":"PartialUpdate","description":"something unexpected"})"};
  });
  for (const v1::Operation operation :
       {v1::OPERATION_CREATE, v1::OPERATION_APPEND_STRICT,
        v1::OPERATION_DELETE}) {
    const size_t before = broker_->requests().size();
    auto response = writer_->Write(Request("orion", operation, 4), Soon());
    ASSERT_TRUE(response.ok());
    EXPECT_EQ(broker_->requests().size(), before + 1);
    for (const auto& result : response->results()) {
      EXPECT_EQ(result.code(), 2);  // UNKNOWN: said, not guessed
      EXPECT_THAT(result.message(), HasSubstr("not idempotent"));
      EXPECT_EQ(result.http_status(), 422);
    }
  }
}

TEST_F(BatchWriterTest, RetriesServerErrorsButNeverOtherClientErrors) {
  std::atomic<int> calls{0};
  StartWith([&calls](const FakeBroker::Request& request) {
    if (absl::StrContains(request.body, "\"R0\"") && calls++ < 2) {
      return FakeBroker::Answer{503, ""};
    }
    if (absl::StrContains(request.body, "\"N0\"")) {
      return FakeBroker::Answer{
          404, R"({"error":"NotFound","description":"no such path"})"};
    }
    return FakeBroker::Answer{};
  });
  auto retried =
      writer_->Write(Request("orion", v1::OPERATION_UPSERT, 1, "R"), Soon());
  ASSERT_TRUE(retried.ok());
  EXPECT_EQ(retried->results(0).code(), 0);
  EXPECT_EQ(calls.load(), 3);
  const size_t before = broker_->requests().size();
  auto not_retried =
      writer_->Write(Request("orion", v1::OPERATION_UPSERT, 1, "N"), Soon());
  ASSERT_TRUE(not_retried.ok());
  EXPECT_EQ(not_retried->results(0).code(), 5);
  EXPECT_EQ(broker_->requests().size(), before + 1);
}

TEST_F(BatchWriterTest, UnknownBrokerAndMissingOperationFailWholeRequest) {
  StartWith([](const FakeBroker::Request&) { return FakeBroker::Answer{}; });
  EXPECT_EQ(writer_->Write(Request("nope", v1::OPERATION_UPSERT, 1), Soon())
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(
      writer_->Write(Request("orion", v1::OPERATION_UNSPECIFIED, 1), Soon())
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(broker_->requests().empty());
}

TEST_F(BatchWriterTest, DeadlineAlreadyPassedSendsNothing) {
  StartWith([](const FakeBroker::Request&) { return FakeBroker::Answer{}; });
  auto response = writer_->Write(Request("orion", v1::OPERATION_UPSERT, 2),
                                 absl::Now() - absl::Seconds(1));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->results(0).code(), 4);
  EXPECT_TRUE(broker_->requests().empty());
}

TEST_F(BatchWriterTest, LdBatchesRespectTheEntityCapAndLinkContext) {
  StartWith([](const FakeBroker::Request&) { return FakeBroker::Answer{}; },
            ",max_entities=3");
  v1::WriteRequest request =
      Request("ld", v1::OPERATION_UPSERT, 7, "urn:ngsi-ld:T:");
  request.add_contexts()->set_string_value("https://example.org/c.jsonld");
  request.set_service("tenant");
  auto response = writer_->Write(request, Soon());
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->succeeded(), 7u);
  const auto requests = broker_->requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].path, "/ngsi-ld/v1/entityOperations/upsert");
  EXPECT_EQ(requests[0].query, "options=update");
  EXPECT_THAT(requests[0].headers.at("link"),
              HasSubstr("<https://example.org/c.jsonld>"));
  EXPECT_EQ(requests[0].headers.at("ngsild-tenant"), "tenant");
  // Independent batches run in parallel, so they may arrive in any order.
  std::vector<int> sizes;
  for (const auto& sent : requests) sizes.push_back(EntitiesIn(sent));
  EXPECT_THAT(sizes, ::testing::UnorderedElementsAre(3, 3, 1));
}

TEST_F(BatchWriterTest, IndependentBatchesOverlapButRepeatedIdsKeepOrder) {
  std::atomic<int> running{0}, most{0};
  StartWith(
      [&running, &most](const FakeBroker::Request&) {
        const int now = ++running;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        absl::SleepFor(absl::Milliseconds(100));
        --running;
        return FakeBroker::Answer{};
      },
      ",max_entities=1,max_connections=4");
  auto parallel =
      writer_->Write(Request("orion", v1::OPERATION_UPSERT, 8), Soon());
  ASSERT_TRUE(parallel.ok());
  EXPECT_EQ(parallel->succeeded(), 8u);
  EXPECT_EQ(parallel->broker_calls(), 8u);
  EXPECT_GT(most.load(), 1);
  EXPECT_LE(most.load(), 4);  // the broker's connection bound

  // The same entity twice: its second write must not overtake the first.
  most = 0;
  v1::WriteRequest repeated = Request("orion", v1::OPERATION_UPSERT, 4);
  *repeated.add_entities() = repeated.entities(0);
  auto ordered = writer_->Write(repeated, Soon());
  ASSERT_TRUE(ordered.ok());
  EXPECT_EQ(ordered->succeeded(), 5u);
  EXPECT_EQ(most.load(), 1);
  const auto requests = broker_->requests();
  EXPECT_THAT(requests.back().body, HasSubstr("\"E0\""));
}

TEST_F(BatchWriterTest, EnqueueRunsTasksOnWorkersAndRefusesAfterShutdown) {
  StartWith([](const FakeBroker::Request&) { return FakeBroker::Answer{}; });
  absl::Notification ran;
  ASSERT_TRUE(writer_->Enqueue([&ran] { ran.Notify(); }).ok());
  EXPECT_TRUE(ran.WaitForNotificationWithTimeout(absl::Seconds(5)));
  writer_->Shutdown();
  EXPECT_EQ(writer_->Enqueue([] {}).code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace ngsi_bridge::replier
