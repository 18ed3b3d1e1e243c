#include "receiver-service/subscription_reconciler.h"

#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/scratch_dir.h"
#include "nlohmann/json.hpp"
#include "tests/testing/fake_subscription_broker.h"

namespace ngsi_bridge::receiver {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using json = nlohmann::json;

constexpr char kCallback[] = "http://receiver:8061/notify";

SubscriptionSpec Spec(absl::string_view name, v1::Flavor flavor) {
  SubscriptionSpec spec;
  spec.name = std::string(name);
  spec.broker_url = "http://broker:1026";
  spec.flavor = flavor;
  spec.entities = {{"", "Room.*", "Room"}};
  spec.notified_attrs = {"temperature"};
  return spec;
}

class SubscriptionReconcilerTest : public ::testing::Test {
 protected:
  std::unique_ptr<SubscriptionReconciler> Make(
      std::vector<SubscriptionSpec> specs, bool prune = false,
      std::string state_file = "") {
    SubscriptionReconciler::Options options;
    options.specs = std::move(specs);
    options.callback_url = kCallback;
    options.prune = prune;
    options.state_file = std::move(state_file);
    options.backfill_overlap = absl::ZeroDuration();
    options.backfill_options.page_size = 7;  // several pages
    auto reconciler = SubscriptionReconciler::Create(
        options, &broker_, &log_, &hub_, &board_, &metrics_);
    EXPECT_TRUE(reconciler.ok()) << reconciler.status();
    return *std::move(reconciler);
  }

  std::vector<v1::NgsiEvent> LoggedEvents() const {
    std::vector<v1::NgsiEvent> events;
    for (uint64_t seq = 1; seq <= log_.latest_sequence(); ++seq) {
      events.push_back((*log_.Read(seq))->event);
    }
    return events;
  }

  SubscriptionState StateOf(absl::string_view name) const {
    for (const SubscriptionState& s : board_.Snapshot()) {
      if (s.name == name) return s;
    }
    return {};
  }

  testing::FakeSubscriptionBroker broker_;
  EventLog log_{EventLog::Options{}};
  EventHub hub_;
  SubscriptionStatusBoard board_;
  common::MetricsRegistry metrics_;
};

TEST_F(SubscriptionReconcilerTest, CreatesMissingThenChangesNothing) {
  auto reconciler =
      Make({Spec("rooms", v1::NGSI_V2), Spec("parking", v1::NGSI_LD)});
  ReconcileSummary first = reconciler->ReconcileOnce();
  EXPECT_EQ(first.created, 2);
  EXPECT_EQ(first.errors, 0);
  EXPECT_THAT(broker_.writes(), ElementsAre("POST /v2/subscriptions",
                                            "POST /ngsi-ld/v1/subscriptions"));
  const json v2 = json::parse(broker_.SubscriptionForTest("sub1"));
  EXPECT_EQ(v2["description"], "[ngsi-bridge:rooms]");
  EXPECT_EQ(v2["notification"]["http"]["url"], kCallback);
  EXPECT_EQ(StateOf("rooms").id, "sub1");
  EXPECT_EQ(StateOf("parking").last_action, "created");

  broker_.ClearCallsForTest();
  ReconcileSummary second = reconciler->ReconcileOnce();
  EXPECT_EQ(second.changes(), 0);
  EXPECT_EQ(second.unchanged, 2);
  EXPECT_THAT(broker_.writes(), IsEmpty());
}

TEST_F(SubscriptionReconcilerTest, LeavesOthersAloneAndFixesDrift) {
  const std::string foreign = broker_.AddSubscriptionForTest(
      false, R"({"description":"made by hand","status":"active",
                 "subject":{"entities":[{"idPattern":".*"}]},
                 "notification":{"http":{"url":"http://elsewhere"}}})");
  auto reconciler = Make({Spec("rooms", v1::NGSI_V2)});
  reconciler->ReconcileOnce();
  const std::string ours = StateOf("rooms").id;
  ASSERT_NE(ours, foreign);
  // Someone edits our subscription at the broker.
  broker_.SetMemberForTest(
      ours, "notification",
      R"({"http":{"url":"http://old:1/notify"},"attrs":["pressure"],
          "attrsFormat":"keyValues","timesSent":4})");
  broker_.ClearCallsForTest();
  ReconcileSummary fix = reconciler->ReconcileOnce();
  EXPECT_EQ(fix.updated, 1);
  EXPECT_THAT(broker_.writes(), ElementsAre("PATCH /v2/subscriptions/" + ours));
  const json fixed = json::parse(broker_.SubscriptionForTest(ours));
  EXPECT_EQ(fixed["notification"]["attrs"], json::array({"temperature"}));
  EXPECT_EQ(fixed["notification"]["http"]["url"], kCallback);
  EXPECT_EQ(json::parse(broker_.SubscriptionForTest(foreign))["description"],
            "made by hand");
  broker_.ClearCallsForTest();
  EXPECT_EQ(reconciler->ReconcileOnce().changes(), 0);
  EXPECT_THAT(broker_.writes(), IsEmpty());
}

TEST_F(SubscriptionReconcilerTest, ThrottlingAndExpirySetChangeNothingTwice) {
  SubscriptionSpec rooms = Spec("rooms", v1::NGSI_V2);
  rooms.throttling_seconds = 5;
  rooms.expires = "2050-04-05T14:00:00Z";  // echoed as ...:00.000Z
  SubscriptionSpec parking = Spec("parking", v1::NGSI_LD);
  parking.throttling_seconds = 2;
  parking.expires = "2050-04-05T14:00:00";  // echoed as expiresAt, UTC
  auto reconciler = Make({rooms, parking});
  EXPECT_EQ(reconciler->ReconcileOnce().created, 2);
  const json v2 = json::parse(broker_.SubscriptionForTest(StateOf("rooms").id));
  EXPECT_EQ(v2["expires"], "2050-04-05T14:00:00.000Z");
  EXPECT_EQ(v2["throttling"], 5);
  const json ld =
      json::parse(broker_.SubscriptionForTest(StateOf("parking").id));
  EXPECT_EQ(ld["expiresAt"], "2050-04-05T14:00:00.000Z");
  broker_.ClearCallsForTest();
  for (int pass = 0; pass < 2; ++pass) {
    ReconcileSummary again = reconciler->ReconcileOnce();
    EXPECT_EQ(again.changes(), 0);
    EXPECT_EQ(again.unchanged, 2);
  }
  EXPECT_THAT(broker_.writes(), IsEmpty());
}

TEST_F(SubscriptionReconcilerTest, FixesThrottlingAndExpiryDrift) {
  SubscriptionSpec rooms = Spec("rooms", v1::NGSI_V2);
  rooms.throttling_seconds = 5;
  SubscriptionSpec parking = Spec("parking", v1::NGSI_LD);
  auto reconciler = Make({rooms, parking});
  reconciler->ReconcileOnce();
  const std::string v2 = StateOf("rooms").id;
  const std::string ld = StateOf("parking").id;
  // Someone changes the throttling and sets expiries the file never asked
  // for (one already past: the broker reports the subscription expired).
  broker_.SetMemberForTest(v2, "throttling", "60");
  broker_.SetMemberForTest(v2, "expires", R"("2000-01-01T00:00:00.000Z")");
  broker_.SetMemberForTest(v2, "status", R"("expired")");
  broker_.SetMemberForTest(ld, "expiresAt", R"("2040-01-01T00:00:00.000Z")");
  broker_.SetMemberForTest(ld, "throttling", "3");
  broker_.ClearCallsForTest();
  ReconcileSummary fix = reconciler->ReconcileOnce();
  EXPECT_EQ(fix.errors, 0);
  EXPECT_EQ(fix.changes(), 2);
  EXPECT_THAT(broker_.writes(),
              ElementsAre("PATCH /v2/subscriptions/" + v2,
                          "PATCH /ngsi-ld/v1/subscriptions/" + ld));
  const json fixed_v2 = json::parse(broker_.SubscriptionForTest(v2));
  EXPECT_EQ(fixed_v2["throttling"], 5);
  EXPECT_FALSE(fixed_v2.contains("expires"));
  EXPECT_EQ(fixed_v2["status"], "active");
  const json fixed_ld = json::parse(broker_.SubscriptionForTest(ld));
  EXPECT_FALSE(fixed_ld.contains("expiresAt"));
  EXPECT_FALSE(fixed_ld.contains("throttling"));
  broker_.ClearCallsForTest();
  EXPECT_EQ(reconciler->ReconcileOnce().changes(), 0);
  EXPECT_THAT(broker_.writes(), IsEmpty());
}

TEST_F(SubscriptionReconcilerTest, SetsADeclaredExpiryAndKeepsItWhenPast) {
  auto reconciler = Make({Spec("rooms", v1::NGSI_V2)});
  reconciler->ReconcileOnce();
  const std::string id = StateOf("rooms").id;
  // The file now asks for an expiry (already past): set it once, then leave
  // the broker's "expired" alone instead of re-activating every pass.
  SubscriptionSpec expiring = Spec("rooms", v1::NGSI_V2);
  expiring.expires = "2001-02-03T04:05:06Z";
  auto updated = Make({expiring});
  EXPECT_EQ(updated->ReconcileOnce().updated, 1);
  EXPECT_EQ(json::parse(broker_.SubscriptionForTest(id))["expires"],
            "2001-02-03T04:05:06.000Z");
  broker_.SetMemberForTest(id, "status", R"("expired")");
  broker_.ClearCallsForTest();
  ReconcileSummary again = updated->ReconcileOnce();
  EXPECT_EQ(again.changes(), 0);
  EXPECT_EQ(again.errors, 0);
  EXPECT_THAT(broker_.writes(), IsEmpty());
}

TEST_F(SubscriptionReconcilerTest, ReactivatesFailedAndPaused) {
  auto reconciler =
      Make({Spec("rooms", v1::NGSI_V2), Spec("parking", v1::NGSI_LD)});
  reconciler->ReconcileOnce();
  const std::string v2 = StateOf("rooms").id;
  const std::string ld = StateOf("parking").id;
  broker_.SetMemberForTest(v2, "status", R"("failed")");
  broker_.SetMemberForTest(ld, "status", R"("paused")");
  broker_.SetMemberForTest(ld, "isActive", "false");
  ReconcileSummary summary = reconciler->ReconcileOnce();
  EXPECT_EQ(summary.reactivated, 2);
  EXPECT_EQ(json::parse(broker_.SubscriptionForTest(v2))["status"], "active");
  EXPECT_EQ(json::parse(broker_.SubscriptionForTest(ld))["isActive"], true);
  EXPECT_EQ(StateOf("parking").last_action, "reactivated");
  EXPECT_EQ(reconciler->ReconcileOnce().changes(), 0);
}

TEST_F(SubscriptionReconcilerTest, PrunesOnlyWhenAsked) {
  {
    auto reconciler = Make({Spec("rooms", v1::NGSI_V2),
                            Spec("gone", v1::NGSI_V2)});
    reconciler->ReconcileOnce();
  }
  ASSERT_THAT(broker_.SubscriptionIdsForTest(), SizeIs(2));
  Make({Spec("rooms", v1::NGSI_V2)})->ReconcileOnce();
  EXPECT_THAT(broker_.SubscriptionIdsForTest(), SizeIs(2));
  ReconcileSummary pruned =
      Make({Spec("rooms", v1::NGSI_V2)}, /*prune=*/true)->ReconcileOnce();
  EXPECT_EQ(pruned.deleted, 1);
  EXPECT_THAT(broker_.SubscriptionIdsForTest(), SizeIs(1));
}

TEST_F(SubscriptionReconcilerTest, PrunesWhereTheFileNoLongerLooks) {
  const testing::ScratchDir scratch;
  const std::string state = scratch.PathOf("subscriptions-state.json");
  Make({Spec("rooms", v1::NGSI_V2), Spec("parking", v1::NGSI_LD)}, false,
       state)
      ->ReconcileOnce();
  ASSERT_THAT(broker_.SubscriptionIdsForTest(), SizeIs(2));
  // No NGSI-LD subscription is declared any more: only the state file
  // says that broker listing holds one of ours.
  ReconcileSummary pruned =
      Make({Spec("rooms", v1::NGSI_V2)}, /*prune=*/true, state)
          ->ReconcileOnce();
  EXPECT_EQ(pruned.deleted, 1);
  EXPECT_EQ(pruned.errors, 0);
  EXPECT_THAT(broker_.SubscriptionIdsForTest(), ElementsAre("sub1"));
  std::remove(state.c_str());
}

TEST_F(SubscriptionReconcilerTest, BrokerDownIsReportedAndRetried) {
  auto reconciler = Make({Spec("rooms", v1::NGSI_V2)});
  broker_.SetDownForTest(true);
  ReconcileSummary down = reconciler->ReconcileOnce();
  EXPECT_EQ(down.errors, 1);
  EXPECT_EQ(StateOf("rooms").status, "unknown");
  EXPECT_THAT(StateOf("rooms").last_error, HasSubstr("connection refused"));
  EXPECT_THAT(board_.RenderJson(), HasSubstr("\"status\": \"unknown\""));
  broker_.SetDownForTest(false);
  EXPECT_EQ(reconciler->ReconcileOnce().created, 1);
}

TEST_F(SubscriptionReconcilerTest, BackfillsWhatChangedWhileDown) {
  const testing::ScratchDir scratch;
  const std::string state = scratch.PathOf("subscriptions-state.json");
  const absl::Time before = absl::Now() - absl::Minutes(10);
  broker_.PutEntityForTest(false,
                           R"({"id":"Room0","type":"Room",
                               "temperature":{"type":"Number","value":1}})",
                           before);
  {
    auto first_run = Make({Spec("rooms", v1::NGSI_V2)}, false, state);
    first_run->ReconcileOnce();  // creates; the watermark is now
  }
  EXPECT_THAT(LoggedEvents(), IsEmpty());
  // While no receiver runs: 20 rooms change, one entity of another type.
  const absl::Time later = absl::Now() + absl::Seconds(1);
  for (int i = 1; i <= 20; ++i) {
    broker_.PutEntityForTest(
        false,
        absl::StrCat(R"({"id":"Room)", i, R"(","type":"Room",)",
                     R"("temperature":{"type":"Number","value":)", i, "}}"),
        later);
  }
  broker_.PutEntityForTest(false, R"({"id":"Car1","type":"Car"})", later);

  auto restarted = Make({Spec("rooms", v1::NGSI_V2)}, false, state);
  ReconcileSummary summary = restarted->ReconcileOnce();
  EXPECT_EQ(summary.backfilled_entities, 20);
  const std::vector<v1::NgsiEvent> events = LoggedEvents();
  ASSERT_THAT(events, SizeIs(20));
  for (const v1::NgsiEvent& event : events) {
    EXPECT_TRUE(event.backfill());
    EXPECT_EQ(event.format(), v1::NORMALIZED);
    EXPECT_EQ(event.flavor(), v1::NGSI_V2);
    EXPECT_EQ(event.subscription_id(), StateOf("rooms").id);
    ASSERT_THAT(event.entities(), SizeIs(1));
    EXPECT_EQ(event.entities(0).type(), "Room");
    EXPECT_TRUE(event.entities(0).attrs().contains("dateModified"));
  }
  EXPECT_EQ(events[0].entities(0).id(), "Room1");
  EXPECT_EQ(events[0].entities(0).attrs().at("temperature").value()
                .number_value(),
            1);
  EXPECT_EQ(StateOf("rooms").backfilled_entities, 20);
  // A healthy second pass backfills nothing.
  EXPECT_EQ(restarted->ReconcileOnce().backfilled_entities, 0);
  std::remove(state.c_str());
}

TEST_F(SubscriptionReconcilerTest, BackfillsNgsiLdAfterPause) {
  SubscriptionSpec spec = Spec("parking", v1::NGSI_LD);
  spec.entities = {{"", "", "Room"}};
  auto reconciler = Make({spec});
  reconciler->ReconcileOnce();  // creates; the watermark is now
  const std::string id = StateOf("parking").id;
  // Changes the broker could not deliver, then it paused the subscription.
  broker_.PutEntityForTest(
      true,
      R"({"id":"urn:ngsi-ld:Room:1","type":"Room",
          "temperature":{"type":"Property","value":20,"unitCode":"CEL"}})",
      absl::Now() + absl::Seconds(1));
  broker_.PutEntityForTest(true, R"({"id":"urn:ngsi-ld:Car:1","type":"Car"})",
                           absl::Now() + absl::Seconds(1));
  broker_.SetMemberForTest(id, "status", R"("paused")");
  ReconcileSummary summary = reconciler->ReconcileOnce();
  EXPECT_EQ(summary.reactivated, 1);
  EXPECT_EQ(summary.backfilled_entities, 1);
  const std::vector<v1::NgsiEvent> events = LoggedEvents();
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_TRUE(events[0].backfill());
  EXPECT_EQ(events[0].flavor(), v1::NGSI_LD);
  EXPECT_EQ(events[0].subscription_id(), id);
  EXPECT_EQ(events[0].entities(0).id(), "urn:ngsi-ld:Room:1");
  EXPECT_EQ(events[0].entities(0).attrs().at("temperature").unit_code(),
            "CEL");
}

TEST_F(SubscriptionReconcilerTest, ExposesStateOnMetrics) {
  auto reconciler = Make({Spec("rooms", v1::NGSI_V2)});
  board_.RegisterMetrics(&metrics_);
  reconciler->ReconcileOnce();
  const std::string text = metrics_.Render();
  EXPECT_THAT(text, HasSubstr("ngsi_receiver_subscription_status{"
                              "subscription=\"rooms\",status=\"active\"} 1"));
  EXPECT_THAT(text, HasSubstr("ngsi_receiver_subscription_changes_total{"
                              "action=\"created\"} 1"));
}

TEST_F(SubscriptionReconcilerTest, NeedsACallbackUrl) {
  SubscriptionReconciler::Options options;
  options.specs = {Spec("rooms", v1::NGSI_V2)};
  EXPECT_EQ(SubscriptionReconciler::Create(options, &broker_, &log_, &hub_,
                                           &board_, &metrics_)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SubscriptionReconcilerTest, ThreadRunsAPassAtStartAndJoins) {
  auto reconciler = Make({Spec("rooms", v1::NGSI_V2)});
  ASSERT_TRUE(reconciler->Start().ok());
  for (int i = 0; i < 500 && StateOf("rooms").id.empty(); ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(StateOf("rooms").id, "sub1");
  reconciler->Shutdown();
  reconciler->Shutdown();  // idempotent
}

}  // namespace
}  // namespace ngsi_bridge::receiver
