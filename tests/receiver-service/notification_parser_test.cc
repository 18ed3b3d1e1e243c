#include "receiver-service/notification_parser.h"

#include <chrono>
#include <cstdio>
#include <map>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "common/ngsi_json.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "receiver-service/event_log.h"
#include "tests/receiver-service/notification_test_util.h"
#include "tests/testing/notification_fixtures.h"
#include "tests/testing/notification_renderer.h"

namespace ngsi_bridge::receiver {
namespace {

using nlohmann::json;
using ::testing::IsEmpty;

struct Expected {
  v1::Flavor flavor;
  v1::Format format;
  int entities;
};

// What each recorded notification must be read as. A fixture added to
// ../shared later is still parsed and round-tripped by the test below;
// listing it here also pins its format.
// clang-format off
const std::map<std::string, Expected>& KnownFixtures() {
  static const auto* known = new std::map<std::string, Expected>{
      {"ld-01-normalized-link-geo-rel-observedAt", {v1::NGSI_LD, v1::NORMALIZED, 1}},
      {"ld-02-concise-ldjson-inline-context", {v1::NGSI_LD, v1::CONCISE, 1}},
      {"ld-03-keyValues-ldjson", {v1::NGSI_LD, v1::SIMPLIFIED, 1}},
      {"ld-05-languageproperty-normalized", {v1::NGSI_LD, v1::NORMALIZED, 1}},
      {"ld-06-languageproperty-concise", {v1::NGSI_LD, v1::CONCISE, 1}},
      {"ld-07-languageproperty-simplified-array", {v1::NGSI_LD, v1::SIMPLIFIED, 1}},
      {"ld-09-vocabproperty", {v1::NGSI_LD, v1::NORMALIZED, 1}},
      {"ld-10-jsonproperty", {v1::NGSI_LD, v1::NORMALIZED, 1}},
      {"ld-11-entity-deleted", {v1::NGSI_LD, v1::NORMALIZED, 1}},
      {"ld-13-showChanges-previous", {v1::NGSI_LD, v1::NORMALIZED, 1}},
      {"ld-14-sysAttrs", {v1::NGSI_LD, v1::NORMALIZED, 1}},
      {"ld-15-geojson-format", {v1::NGSI_LD, v1::GEOJSON, 1}},
      {"ld-17-ngsiv2-keyValues-cross-format", {v1::NGSI_V2, v1::KEY_VALUES, 1}},
      {"ld-18-tenant-and-authorization-forwarded", {v1::NGSI_LD, v1::NORMALIZED, 1}},
      {"ld-19-forwarded-tenant-xauth-authorization", {v1::NGSI_LD, v1::CONCISE, 1}},
      {"ld-21-legacy-link-header", {v1::NGSI_LD, v1::NORMALIZED, 1}},
      {"ld-22-legacy-inline-context", {v1::NGSI_LD, v1::NORMALIZED, 1}},
      {"ld-23-legacy-observedAt-relationship", {v1::NGSI_LD, v1::NORMALIZED, 1}},
      {"ld-25-mqtt-metadata-body-wrapper", {v1::NGSI_LD, v1::NORMALIZED, 1}},
      {"v2-01-normalized-default", {v1::NGSI_V2, v1::NORMALIZED, 1}},
      {"v2-02-keyValues", {v1::NGSI_V2, v1::KEY_VALUES, 1}},
      {"v2-04-simplifiedNormalized", {v1::NGSI_V2, v1::SIMPLIFIED_NORMALIZED, 1}},
      {"v2-05-simplifiedKeyValues", {v1::NGSI_V2, v1::SIMPLIFIED_KEY_VALUES, 1}},
      {"v2-06-legacy-ngsiv1", {v1::NGSI_V2, v1::LEGACY, 1}},
      {"v2-08-custom-text-payload-urlencoded-json", {v1::NGSI_V2, v1::CUSTOM, 0}},
      {"v2-09-custom-method-patch", {v1::NGSI_V2, v1::NORMALIZED, 1}},
      {"v2-10-custom-qs-macros", {v1::NGSI_V2, v1::NORMALIZED, 1}},
      {"v2-12-custom-delete-with-text-payload", {v1::NGSI_V2, v1::CUSTOM, 0}},
      {"v2-13-custom-missing-attr-and-content-type-override", {v1::NGSI_V2, v1::CUSTOM, 0}},
      {"v2-14-custom-json", {v1::NGSI_V2, v1::CUSTOM, 0}},
      {"v2-16-custom-json-content-type-override", {v1::NGSI_V2, v1::CUSTOM, 0}},
      {"v2-17-custom-ngsi-patch-add-attr", {v1::NGSI_V2, v1::NORMALIZED, 1}},
      {"v2-18-custom-ngsi-patch-id", {v1::NGSI_V2, v1::NORMALIZED, 1}},
      {"v2-20-custom-payload-null-empty-body", {v1::NGSI_V2, v1::CUSTOM, 0}},
      {"v2-21-custom-xml-payload", {v1::NGSI_V2, v1::CUSTOM, 0}},
      {"v2-22-custom-decoded-chars-qs-headers", {v1::NGSI_V2, v1::CUSTOM, 0}},
      {"v2-24-custom-text-content-type-case-insensitive", {v1::NGSI_V2, v1::CUSTOM, 0}},
      {"v2-25-custom-json-extra-macros-service-headers", {v1::NGSI_V2, v1::CUSTOM, 0}},
      {"v2-26-jexl-transformation", {v1::NGSI_V2, v1::NORMALIZED, 1}},
      {"v2-28-servicepath-builtin-and-header", {v1::NGSI_V2, v1::NORMALIZED, 1}},
      {"v2-29-x-auth-token-propagation", {v1::NGSI_V2, v1::CUSTOM, 0}},
      {"v2-30-https-notification", {v1::NGSI_V2, v1::NORMALIZED, 1}},
      {"v2-32-entity-dateCreated-dateModified", {v1::NGSI_V2, v1::NORMALIZED, 1}},
      {"v2-33-previousValue-actionType", {v1::NGSI_V2, v1::NORMALIZED, 1}},
      {"v2-34-actionType-append-on-create", {v1::NGSI_V2, v1::NORMALIZED, 1}},
      {"v2-36-alterationType-entityDelete", {v1::NGSI_V2, v1::NORMALIZED, 1}},
      {"v2-37-alterationType-entityDelete-onlyChangedAttrs", {v1::NGSI_V2, v1::NORMALIZED, 1}},
      {"v2-38-alterationType-entityCreate", {v1::NGSI_V2, v1::NORMALIZED, 1}},
      {"v2-40-covered-null-attrs", {v1::NGSI_V2, v1::NORMALIZED, 1}},
      {"v2-41-datetime-null-value", {v1::NGSI_V2, v1::NORMALIZED, 1}},
      {"v2-42-datetime-value", {v1::NGSI_V2, v1::NORMALIZED, 1}},
      {"v2-44-geo-json-point", {v1::NGSI_V2, v1::NORMALIZED, 1}},
      {"v2-45-structured-values-object-array", {v1::NGSI_V2, v1::NORMALIZED, 1}},
      {"v2-46-metadata-compound-array", {v1::NGSI_V2, v1::NORMALIZED, 1}},
      {"v2-48-number-rounding-8", {v1::NGSI_V2, v1::NORMALIZED, 1}},
      {"v2-49-text-unrestricted-forbidden-chars", {v1::NGSI_V2, v1::NORMALIZED, 1}},
      {"v2-50-dollar-prefixed-names", {v1::NGSI_V2, v1::NORMALIZED, 1}},
      // MQTT custom payloads carry no header: the flavor is not known.
      {"v2-52-mqtt-custom-topic-macro", {v1::FLAVOR_UNSPECIFIED, v1::CUSTOM, 0}},
      {"v2-53-mqtt-custom-text-topic-service", {v1::FLAVOR_UNSPECIFIED, v1::CUSTOM, 0}},
      {"v2-54-mqtt-custom-ngsi", {v1::NGSI_V2, v1::NORMALIZED, 1}},
  };
  return *known;
}
// clang-format on

// NGSIv1 lists are keyed by "name": their order carries no meaning (and
// the event keeps attributes in a map), so both sides are sorted by name.
void SortLegacyLists(json* doc) {
  if (doc->is_object()) {
    for (auto it = doc->begin(); it != doc->end(); ++it) {
      SortLegacyLists(&it.value());
      if ((it.key() == "attributes" || it.key() == "metadatas") &&
          it->is_array()) {
        std::sort(it->begin(), it->end(), [](const json& a, const json& b) {
          return a.value("name", "") < b.value("name", "");
        });
      }
    }
  } else if (doc->is_array()) {
    for (json& item : *doc) SortLegacyLists(&item);
  }
}

// The headers of the notification; for Orion-LD's MQTT wrapper, which
// has none on the wire, the would-be headers in its "metadata".
std::string HeaderValue(const testing::NotificationFixture& fixture,
                        absl::string_view name) {
  for (const auto& [key, value] : fixture.headers) {
    if (absl::EqualsIgnoreCase(key, name)) return value;
  }
  const json body = json::parse(fixture.body_json);
  if (fixture.headers.empty() && body.is_object() && body.contains("body") &&
      body.contains("metadata")) {
    for (const auto& [key, value] : body["metadata"].items()) {
      if (absl::EqualsIgnoreCase(key, name)) return value.get<std::string>();
    }
  }
  return "";
}

class FixtureTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto fixture = testing::LoadNotificationFixture(FixtureDir(), GetParam());
    ASSERT_TRUE(fixture.ok()) << fixture.status();
    fixture_ = *std::move(fixture);
    auto event = ParseNotification(ToRequest(fixture_));
    ASSERT_TRUE(event.ok()) << event.status();
    event_ = *std::move(event);
  }

  testing::NotificationFixture fixture_;
  v1::NgsiEvent event_;
};

TEST_P(FixtureTest, HasTheFlavorFormatAndEntityCountOfItsFormat) {
  const auto known = KnownFixtures().find(GetParam());
  if (known == KnownFixtures().end()) {
    GTEST_SKIP() << "new fixture: add it to KnownFixtures()";
  }
  EXPECT_EQ(event_.flavor(), known->second.flavor)
      << v1::Flavor_Name(event_.flavor());
  EXPECT_EQ(event_.format(), known->second.format)
      << v1::Format_Name(event_.format());
  EXPECT_EQ(event_.entities_size(), known->second.entities);
}

TEST_P(FixtureTest, RendersBackToTheBodyTheBrokerSent) {
  const json expected = json::parse(fixture_.body_json);
  const json rendered = testing::RenderNotificationBodyForTest(event_);
  if (event_.format() == v1::CUSTOM) {
    // Verbatim bytes, whatever they are.
    EXPECT_EQ(event_.body(), fixture_.body);
    EXPECT_TRUE(event_.entities().empty());
    if (expected.is_null()) {
      EXPECT_THAT(event_.body(), IsEmpty());
    }
    return;
  }
  json sorted_expected = expected;
  json sorted_rendered = rendered;
  SortLegacyLists(&sorted_expected);
  SortLegacyLists(&sorted_rendered);
  EXPECT_EQ(sorted_rendered, sorted_expected)
      << "rendered: " << rendered.dump() << "\nexpected: " << expected.dump();
}

TEST_P(FixtureTest, TakesTenantServicePathCorrelatorAndRequestLineFromHeaders) {
  EXPECT_EQ(event_.correlator(), HeaderValue(fixture_, "Fiware-Correlator"));
  EXPECT_EQ(event_.service_path(), HeaderValue(fixture_, "Fiware-ServicePath"));
  std::string service = HeaderValue(fixture_, "Fiware-Service");
  if (service.empty()) service = HeaderValue(fixture_, "NGSILD-Tenant");
  EXPECT_EQ(event_.service(), service);
  EXPECT_EQ(event_.method(), fixture_.method);
  EXPECT_EQ(event_.path(), fixture_.path);
  EXPECT_EQ(event_.query(), fixture_.query);
  EXPECT_EQ(event_.content_type(), HeaderValue(fixture_, "Content-Type"));
}

TEST_P(FixtureTest, TakesSubscriptionIdFromBodyElseQuery) {
  if (event_.format() == v1::CUSTOM) {
    EXPECT_THAT(event_.subscription_id(), IsEmpty());
    return;
  }
  json body = json::parse(fixture_.body_json);
  if (body.contains("body")) body = body["body"];  // MQTT wrapper
  std::string expected = body.value("subscriptionId", "");
  const size_t at = fixture_.query.find("subscriptionId=");
  if (expected.empty() && at != std::string::npos) {
    expected = fixture_.query.substr(at + 15);
  }
  EXPECT_EQ(event_.subscription_id(), expected);
}

TEST_P(FixtureTest, KeepsNoSecretOrTransportHeaderAndLowerCasesTheRest) {
  for (const auto& [name, value] : event_.headers()) {
    EXPECT_EQ(name, absl::AsciiStrToLower(name));
    EXPECT_NE(name, "authorization");
    EXPECT_NE(name, "x-auth-token");
    EXPECT_NE(name, "host");
    EXPECT_NE(name, "content-length");
    EXPECT_NE(name, "accept");
    EXPECT_NE(name, "fiware-correlator");
    EXPECT_NE(name, "content-type");
  }
  const std::string format_header =
      HeaderValue(fixture_, "Ngsild-Attribute-Format").empty()
          ? HeaderValue(fixture_, "Ngsiv2-AttrsFormat")
          : HeaderValue(fixture_, "Ngsild-Attribute-Format");
  EXPECT_EQ(event_.attrs_format(), format_header);
}

TEST_P(FixtureTest, SurvivesTheEventJsonLine) {
  const std::string line = common::EventToJsonLine(event_);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  // The direct writer prints what protobuf's printer prints, byte for byte.
  EXPECT_EQ(line, common::EventToJsonLineByProtobufForTest(event_));
  auto back = common::EventFromJsonLine(line);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*back, event_))
      << line;
}

// The log's memory budget counts an estimate; it must not undercount what
// the parsed event really holds, or the budget would not bound memory.
TEST_P(FixtureTest, LogMemoryEstimateIsAtLeastTheEventsInMemorySize) {
  const size_t cached_copies = 2 * event_.ByteSizeLong();  // wire + line
  EXPECT_GE(EstimatedEventMemory(event_),
            event_.SpaceUsedLong() + cached_copies)
      << "serialized " << event_.ByteSizeLong();
}

std::string TestName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  for (char& c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(
    OrionFixtures, FixtureTest,
    ::testing::ValuesIn(testing::ListNotificationFixtures(FixtureDir())),
    TestName);

TEST(NotificationFixturesTest, FolderHoldsEveryKnownFixture) {
  const auto names = testing::ListNotificationFixtures(FixtureDir());
  ASSERT_FALSE(names.empty()) << "no fixtures under " << FixtureDir();
  for (const auto& [name, expected] : KnownFixtures()) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end())
        << name;
  }
}

// Throughput on this machine, for humans (timing asserts would be flaky):
// receiver_test --gtest_also_run_disabled_tests --gtest_filter=*Throughput*
TEST(NotificationParserThroughput, DISABLED_ParsesEveryFixtureRepeatedly) {
  std::vector<NotificationRequest> requests;
  for (const std::string& name :
       testing::ListNotificationFixtures(FixtureDir())) {
    auto fixture = testing::LoadNotificationFixture(FixtureDir(), name);
    ASSERT_TRUE(fixture.ok()) << fixture.status();
    requests.push_back(ToRequest(*fixture));
  }
  ASSERT_FALSE(requests.empty());
  constexpr int kRounds = 2000;
  const auto start = std::chrono::steady_clock::now();
  size_t parsed = 0;
  for (int round = 0; round < kRounds; ++round) {
    for (const NotificationRequest& request : requests) {
      parsed += ParseNotification(request).ok() ? 1 : 0;
    }
  }
  const std::chrono::duration<double> elapsed =
      std::chrono::steady_clock::now() - start;
  EXPECT_EQ(parsed, kRounds * requests.size());
  std::printf("%.0f notifications/s on one thread\n",
              static_cast<double>(parsed) / elapsed.count());
}

}  // namespace
}  // namespace ngsi_bridge::receiver
