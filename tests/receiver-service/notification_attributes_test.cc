// What each attribute kind and sub-property of the fixtures becomes in the
// event, plus the constructs no fixture shows (values format, multi-
// instance attributes, several types).
#include <string>

#include "common/ngsi_json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "receiver-service/notification_parser.h"
#include "tests/receiver-service/notification_test_util.h"
#include "tests/testing/notification_renderer.h"

namespace ngsi_bridge::receiver {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

v1::NgsiEvent Fixture(const std::string& name) {
  auto event = ParseFixture(name);
  EXPECT_TRUE(event.ok()) << name << ": " << event.status();
  return event.ok() ? *std::move(event) : v1::NgsiEvent();
}

nlohmann::json Json(const google::protobuf::Value& value) {
  return common::ValueToJson(value);
}

v1::NgsiEvent Parse(const std::string& body,
                    std::vector<std::pair<std::string, std::string>> headers,
                    const std::string& query = "") {
  NotificationRequest request{"POST", "/notify", query, std::move(headers),
                              body};
  auto event = ParseNotification(request);
  EXPECT_TRUE(event.ok()) << event.status();
  return event.ok() ? *std::move(event) : v1::NgsiEvent();
}

TEST(NotificationAttributesTest, LdNormalizedKeepsGeoRelationshipSubProps) {
  const v1::NgsiEvent event =
      Fixture("ld-01-normalized-link-geo-rel-observedAt");
  ASSERT_EQ(event.entities_size(), 1);
  const v1::Entity& entity = event.entities(0);
  EXPECT_EQ(entity.id(), "urn:ngsi-ld:entities:E1");
  EXPECT_EQ(entity.type(), "T");
  const v1::Attribute& p = entity.attrs().at("P");
  EXPECT_EQ(p.type(), "Property");
  EXPECT_EQ(Json(p.value()), 44);
  EXPECT_EQ(p.observed_at(), "2020-12-10T07:11:00.123Z");
  const v1::Attribute& sub_int = p.metadata().at("Sub-Int");
  EXPECT_EQ(sub_int.unit_code(), "pi-i");
  EXPECT_EQ(sub_int.observed_at(), "2020-12-10T07:12:00.128Z");
  const v1::Attribute& sub_r = p.metadata().at("Sub-R");
  EXPECT_EQ(sub_r.type(), "Relationship");
  EXPECT_EQ(Json(sub_r.object()), "urn:ngsi-ld:rel:R2");
  EXPECT_FALSE(sub_r.has_value());
  const v1::Attribute& point = p.metadata().at("geo-point");
  EXPECT_EQ(point.type(), "GeoProperty");
  EXPECT_EQ(Json(point.value())["type"], "Point");
  EXPECT_EQ(Json(entity.attrs().at("R").object()),
            "urn:ngsi-ld:relationships:R");
  EXPECT_TRUE(p.extra().empty());
  // Envelope.
  EXPECT_EQ(event.notification_id(),
            "urn:ngsi-ld:Notification:cc7f6c8c-9110-11ef-8a1d-0242ac120003");
  EXPECT_EQ(event.notified_at().seconds(), 1729678272);
  EXPECT_EQ(event.notified_at().nanos(), 345000000);
  ASSERT_EQ(event.contexts_size(), 1);
  EXPECT_EQ(event.contexts(0).string_value(),
            "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.6.jsonld");
  EXPECT_TRUE(event.extra().empty());
}

TEST(NotificationAttributesTest, LdConciseTellsAttributeFormFromBareValue) {
  const v1::NgsiEvent event = Fixture("ld-02-concise-ldjson-inline-context");
  const v1::Entity& entity = event.entities(0);
  const v1::Attribute& p1 = entity.attrs().at("P1");
  EXPECT_FALSE(p1.bare());
  EXPECT_EQ(p1.type(), "");  // concise leaves it out
  EXPECT_EQ(Json(p1.value()), 1);
  EXPECT_EQ(Json(p1.metadata().at("Sub-R1").object()), "urn:E1");
  const v1::Attribute& p2 = entity.attrs().at("P2");
  EXPECT_TRUE(p2.bare());
  EXPECT_EQ(Json(p2.value()), "ok");
  // Inline @context (application/ld+json, no Link header).
  ASSERT_EQ(event.contexts_size(), 1);
  EXPECT_EQ(event.contexts(0).string_value(),
            "https://fiware.github.io/NGSI-LD_TestSuite/ldContext/"
            "testContext.jsonld");
}

TEST(NotificationAttributesTest, LdSimplifiedAttributesAreBare) {
  const v1::NgsiEvent event =
      Fixture("ld-07-languageproperty-simplified-array");
  const v1::Attribute& l = event.entities(0).attrs().at("L");
  EXPECT_TRUE(l.bare());
  EXPECT_EQ(Json(l.value()), nlohmann::json({"yes", "yeah!"}));
  EXPECT_EQ(event.attrs_format(), "Simplified");
}

TEST(NotificationAttributesTest, LanguagePropertyKeepsLangAndLanguageMap) {
  const v1::Attribute normalized =
      Fixture("ld-05-languageproperty-normalized").entities(0).attrs().at("L");
  EXPECT_EQ(normalized.lang(), "en");
  EXPECT_EQ(Json(normalized.value()), "yes");
  const v1::Attribute concise =
      Fixture("ld-06-languageproperty-concise").entities(0).attrs().at("L");
  EXPECT_FALSE(concise.bare());
  EXPECT_EQ(concise.lang(), "en");
  const v1::Attribute changed =
      Fixture("ld-13-showChanges-previous").entities(0).attrs().at("L1");
  EXPECT_EQ(changed.type(), "LanguageProperty");
  EXPECT_EQ(Json(changed.language_map())["es"], "doce");
  EXPECT_EQ(Json(changed.previous_language_map())["es"], "ocho");
  EXPECT_FALSE(changed.has_value());
}

TEST(NotificationAttributesTest, ShowChangesKeepsEveryPreviousMember) {
  const v1::Entity entity = Fixture("ld-13-showChanges-previous").entities(0);
  EXPECT_EQ(Json(entity.attrs().at("A1").previous_value()), 4);
  EXPECT_FALSE(entity.attrs().at("A2").has_previous_value());
  EXPECT_EQ(Json(entity.attrs().at("G1").previous_value())["coordinates"],
            nlohmann::json({10, 10}));
  EXPECT_EQ(Json(entity.attrs().at("R1").previous_object()), "urn:E6");
}

TEST(NotificationAttributesTest, VocabAndJsonPropertiesKeepTheirMember) {
  const v1::Attribute vocab =
      Fixture("ld-09-vocabproperty").entities(0).attrs().at("V2");
  EXPECT_EQ(vocab.type(), "VocabularyProperty");
  EXPECT_EQ(Json(vocab.vocab()), nlohmann::json({"vocab", "id"}));
  const v1::Entity json_entity = Fixture("ld-10-jsonproperty").entities(0);
  EXPECT_EQ(Json(json_entity.attrs().at("V2").json()),
            nlohmann::json({"json", "id"}));
  EXPECT_EQ(Json(json_entity.attrs().at("V3").json()), "json");
}

TEST(NotificationAttributesTest, LdDeletionAndSystemAttributes) {
  const v1::Entity deleted = Fixture("ld-11-entity-deleted").entities(0);
  EXPECT_TRUE(deleted.deleted());
  EXPECT_EQ(deleted.deleted_at(), "2024-10-23T10:11:12.345Z");
  EXPECT_TRUE(deleted.attrs().empty());
  const v1::Entity sys = Fixture("ld-14-sysAttrs").entities(0);
  EXPECT_EQ(sys.created_at(), "2024-10-23T10:11:12.345Z");
  EXPECT_EQ(sys.modified_at(), "2024-10-23T10:11:12.345Z");
  EXPECT_EQ(sys.attrs().at("P1").created_at(), "2024-10-23T10:11:12.345Z");
  EXPECT_EQ(sys.attrs().at("P1").modified_at(), "2024-10-23T10:11:12.345Z");
  EXPECT_FALSE(sys.deleted());
}

TEST(NotificationAttributesTest, GeoJsonFeatureBecomesEntityWithGeometry) {
  const v1::NgsiEvent event = Fixture("ld-15-geojson-format");
  ASSERT_EQ(event.entities_size(), 1);
  const v1::Entity& entity = event.entities(0);
  EXPECT_EQ(entity.id(), "urn:ngsi-ld:E01");
  EXPECT_EQ(entity.type(), "T");
  EXPECT_EQ(Json(entity.geometry())["coordinates"], nlohmann::json({1, 2}));
  EXPECT_EQ(entity.context().string_value(),
            "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.6.jsonld");
  EXPECT_EQ(entity.attrs().at("location").type(), "GeoProperty");
  EXPECT_EQ(event.content_type(), "application/geo+json");
}

TEST(NotificationAttributesTest, LegacyNotifierLdBodyIsNgsiLdWithV2Headers) {
  const v1::NgsiEvent event =
      Fixture("ld-23-legacy-observedAt-relationship");
  EXPECT_EQ(event.flavor(), v1::NGSI_LD);
  EXPECT_EQ(event.attrs_format(), "normalized");
  EXPECT_EQ(event.service_path(), "/");
  const v1::Attribute& parked = event.entities(0).attrs().at("isParked");
  EXPECT_EQ(parked.observed_at(), "2018-12-04T12:00:00.000Z");
  EXPECT_EQ(Json(parked.metadata().at("providedBy").object()),
            "urn:ngsi-ld:Person:Bob");
  const v1::NgsiEvent inline_context =
      Fixture("ld-22-legacy-inline-context");
  EXPECT_EQ(inline_context.flavor(), v1::NGSI_LD);
  ASSERT_EQ(inline_context.contexts_size(), 1);
}

TEST(NotificationAttributesTest, CrossFormatIsNgsiV2ButKeepsOrionLdUserAgent) {
  const v1::NgsiEvent event = Fixture("ld-17-ngsiv2-keyValues-cross-format");
  EXPECT_EQ(event.flavor(), v1::NGSI_V2);
  EXPECT_EQ(event.format(), v1::KEY_VALUES);
  EXPECT_EQ(event.headers().at("user-agent"), "orionld/post-v1.7.0");
  const v1::Entity& entity = event.entities(0);
  EXPECT_EQ(entity.type(), "https://uri.etsi.org/ngsi-ld/default-context/T");
  EXPECT_TRUE(
      entity.attrs()
          .at("https://uri.etsi.org/ngsi-ld/default-context/P1")
          .bare());
  // Orion's own NGSIv2 notifications do not keep the User-Agent.
  EXPECT_FALSE(
      Fixture("v2-02-keyValues").headers().contains("user-agent"));
}

TEST(NotificationAttributesTest, TenantFromNgsildTenantAndSecretsDropped) {
  const v1::NgsiEvent event =
      Fixture("ld-19-forwarded-tenant-xauth-authorization");
  EXPECT_EQ(event.service(), "t1");
  EXPECT_THAT(event.headers(), IsEmpty());
  const v1::NgsiEvent compound =
      Fixture("ld-18-tenant-and-authorization-forwarded");
  EXPECT_EQ(compound.service(), "captn");
  EXPECT_EQ(compound.path(), "/yvonne");
  EXPECT_EQ(Json(compound.entities(0).attrs().at("dateObserved").value()),
            nlohmann::json({{"@type", "DateTime"},
                            {"@value", "2023-02-08T13:13:14.000Z"}}));
}

TEST(NotificationAttributesTest, MqttWrapperMetadataActsAsHeaders) {
  const v1::NgsiEvent event = Fixture("ld-25-mqtt-metadata-body-wrapper");
  EXPECT_EQ(event.flavor(), v1::NGSI_LD);
  EXPECT_EQ(event.attrs_format(), "Normalized");
  EXPECT_EQ(event.content_type(), "application/json");
  ASSERT_EQ(event.contexts_size(), 1);
  EXPECT_EQ(event.contexts(0).string_value(),
            "https://fiware.github.io/data-models/context.jsonld");
  EXPECT_THAT(event.headers(),
              UnorderedElementsAre(Pair("h1", "123"), Pair("h2", "456")));
  EXPECT_EQ(event.subscription_id(),
            "urn:ngsi-ld:Subscription:mqttNotification");
  EXPECT_EQ(event.entities(0).id(), "urn:ngsi-ld:Test:Mqtt1");
  EXPECT_TRUE(event.extra().contains("metadata"));
}

TEST(NotificationAttributesTest, V2MetadataAndBuiltinsStayAsSent) {
  const v1::Entity entity =
      Fixture("v2-33-previousValue-actionType").entities(0);
  const v1::Attribute& b = entity.attrs().at("B");
  EXPECT_EQ(b.type(), "Number");
  EXPECT_EQ(Json(b.value()), 20);
  EXPECT_EQ(Json(b.metadata().at("actionType").value()), "update");
  EXPECT_EQ(b.metadata().at("previousValue").type(), "Number");
  EXPECT_EQ(Json(b.metadata().at("previousValue").value()), 2);
  const v1::Attribute m1 = Fixture("v2-46-metadata-compound-array")
                                .entities(0)
                                .attrs()
                                .at("A1")
                                .metadata()
                                .at("M1");
  EXPECT_EQ(Json(m1.value()), nlohmann::json({1, 2}));
  const v1::Attribute null_value =
      Fixture("v2-41-datetime-null-value").entities(0).attrs().at("T");
  EXPECT_TRUE(null_value.has_value());
  EXPECT_EQ(null_value.value().kind_case(),
            google::protobuf::Value::kNullValue);
}

TEST(NotificationAttributesTest, V2EntityDeleteIsMarkedAndKeptAsAttribute) {
  const v1::Entity deleted =
      Fixture("v2-37-alterationType-entityDelete-onlyChangedAttrs").entities(0);
  EXPECT_TRUE(deleted.deleted());
  EXPECT_EQ(Json(deleted.attrs().at("alterationType").value()), "entityDelete");
  EXPECT_FALSE(
      Fixture("v2-38-alterationType-entityCreate").entities(0).deleted());
}

TEST(NotificationAttributesTest, V2EnvelopeFieldsComeFromHeaders) {
  const v1::NgsiEvent event = Fixture("v2-01-normalized-default");
  EXPECT_EQ(event.subscription_id(), "6717a1b2c3d4e5f60718293a");
  EXPECT_EQ(event.correlator(),
            "b4b5e2f2-9132-11ef-8e4a-0242ac120002; cbnotif=1");
  EXPECT_EQ(event.service_path(), "/");
  EXPECT_EQ(event.service(), "");
  EXPECT_EQ(event.attrs_format(), "normalized");
  EXPECT_THAT(event.headers(), IsEmpty());
  const v1::NgsiEvent tenant =
      Fixture("v2-25-custom-json-extra-macros-service-headers");
  EXPECT_EQ(tenant.service(), "s1");
  EXPECT_EQ(tenant.service_path(), "/subservA");
  EXPECT_EQ(tenant.query(), "S=my-s1&t=my-fgm");
}

TEST(NotificationAttributesTest, LegacyNgsiV1KeepsMetadatasStatusOriginator) {
  const v1::NgsiEvent event = Fixture("v2-06-legacy-ngsiv1");
  EXPECT_EQ(event.originator(), "localhost");
  EXPECT_EQ(event.attrs_format(), "");
  const v1::Entity& entity = event.entities(0);
  EXPECT_EQ(entity.id(), "E1");
  EXPECT_EQ(entity.type(), "T");
  const v1::Attribute& b = entity.attrs().at("B");
  EXPECT_EQ(Json(b.metadata().at("previousValue").value()), 2);
  EXPECT_EQ(Json(entity.legacy_status())["isPattern"], "false");
  EXPECT_EQ(Json(entity.legacy_status())["statusCode"]["code"], "200");
}

TEST(NotificationAttributesTest, CustomBodiesAreVerbatimWithContentType) {
  const v1::NgsiEvent xml = Fixture("v2-21-custom-xml-payload");
  EXPECT_EQ(xml.body(),
            "<attributes><a1>a1</a1><a2>a2</a2><a3>13</a3></attributes>");
  EXPECT_EQ(xml.content_type(), "application/xml");
  const v1::NgsiEvent empty = Fixture("v2-20-custom-payload-null-empty-body");
  EXPECT_EQ(empty.format(), v1::CUSTOM);
  EXPECT_THAT(empty.body(), IsEmpty());
  EXPECT_THAT(empty.content_type(), IsEmpty());
  const v1::NgsiEvent headers =
      Fixture("v2-12-custom-delete-with-text-payload");
  EXPECT_EQ(headers.method(), "DELETE");
  EXPECT_THAT(headers.headers(),
              UnorderedElementsAre(Pair("entity-id", "E1"),
                                   Pair("entity-type", "Thing"),
                                   Pair("step", "06"), Pair("a1", "a1"),
                                   Pair("a2", "a2"), Pair("a3", "13")));
  EXPECT_EQ(Fixture("v2-29-x-auth-token-propagation").headers().size(), 0u);
}

TEST(NotificationAttributesTest, ValuesFormatHasNoIdTypeOrNames) {
  const v1::NgsiEvent event =
      Parse(R"({"subscriptionId":"s","data":[[23.5,"C",null],[1]]})",
            {{"Ngsiv2-AttrsFormat", "values"}});
  EXPECT_EQ(event.format(), v1::VALUES);
  ASSERT_EQ(event.entities_size(), 2);
  EXPECT_FALSE(event.entities(0).has_id());
  EXPECT_FALSE(event.entities(0).has_type());
  EXPECT_TRUE(event.entities(0).attrs().empty());
  ASSERT_EQ(event.entities(0).values_size(), 3);
  EXPECT_EQ(Json(event.entities(0).values(1)), "C");
  EXPECT_EQ(testing::RenderNotificationBodyForTest(event),
            nlohmann::json::parse(
                R"({"subscriptionId":"s","data":[[23.5,"C",null],[1]]})"));
}

TEST(NotificationAttributesTest, MultiInstanceAttributeKeepsEachDatasetId) {
  const std::string body = R"({"id":"urn:ngsi-ld:Notification:1",
      "type":"Notification","subscriptionId":"urn:s","data":[{"id":"urn:E",
      "type":["A","B"],"scope":"/x","speed":[
        {"type":"Property","value":1,"datasetId":"urn:d:1"},
        {"type":"Property","value":2,"datasetId":"urn:d:2","unitCode":"KMH"}],
      "list":{"type":"ListProperty","valueList":[1,2]}}]})";
  const v1::NgsiEvent event =
      Parse(body, {{"Ngsild-Attribute-Format", "Normalized"}});
  const v1::Entity& entity = event.entities(0);
  EXPECT_FALSE(entity.has_type());
  EXPECT_THAT(entity.types(), ElementsAre("A", "B"));
  EXPECT_EQ(entity.scope(), "/x");
  const v1::Attribute& speed = entity.attrs().at("speed");
  ASSERT_EQ(speed.instances_size(), 2);
  EXPECT_EQ(speed.instances(0).dataset_id(), "urn:d:1");
  EXPECT_EQ(speed.instances(1).unit_code(), "KMH");
  EXPECT_EQ(Json(entity.attrs().at("list").extra().at("valueList")),
            nlohmann::json({1, 2}));
  EXPECT_EQ(testing::RenderNotificationBodyForTest(event),
            nlohmann::json::parse(body));
}

TEST(NotificationAttributesTest, UnknownMembersAndOddSpellingsGoToExtra) {
  const std::string body = R"({"id":"","type":"Notification",
      "notifiedAt":"2024-10-23T10:11:12Z","subscriptionId":"urn:s",
      "future":{"x":1},"data":[{"id":"urn:E","type":"T",
      "P":{"type":"Property","value":1,"observedAt":"","custom":true}}]})";
  const v1::NgsiEvent event =
      Parse(body, {{"Ngsild-Attribute-Format", "Normalized"}});
  EXPECT_EQ(Json(event.extra().at("future")), nlohmann::json({{"x", 1}}));
  EXPECT_EQ(Json(event.extra().at("id")), "");
  EXPECT_EQ(Json(event.extra().at("notifiedAt")), "2024-10-23T10:11:12Z");
  EXPECT_EQ(event.notified_at().seconds(), 1729678272);
  const v1::Attribute& p = event.entities(0).attrs().at("P");
  EXPECT_EQ(Json(p.extra().at("custom")), true);
  EXPECT_EQ(Json(p.extra().at("observedAt")), "");
  EXPECT_EQ(testing::RenderNotificationBodyForTest(event),
            nlohmann::json::parse(body));
}

TEST(NotificationAttributesTest, SubscriptionIdFromQueryIsPercentDecoded) {
  const v1::NgsiEvent event =
      Parse(R"({"data":[{"id":"urn:E","type":"T"}]})",
            {{"Ngsild-Attribute-Format", "Normalized"}},
            "x=1&subscriptionId=urn%3As%3A1+2");
  EXPECT_EQ(event.subscription_id(), "urn:s:1+2");
}

TEST(NotificationAttributesTest, LinkToSomethingElseIsKeptAsHeader) {
  const v1::NgsiEvent event = Parse(
      R"({"subscriptionId":"s","data":[]})",
      {{"Ngsiv2-AttrsFormat", "normalized"},
       {"LINK", R"(<https://x/next>; rel="next")"},
       {"Fiware-Service", "a"},
       {"NGSILD-Tenant", "b"},
       {"Cookie", "c"},
       {"Transfer-Encoding", "chunked"}});
  EXPECT_THAT(event.contexts(), IsEmpty());
  EXPECT_EQ(event.service(), "a");
  EXPECT_THAT(event.headers(),
              UnorderedElementsAre(
                  Pair("link", R"(<https://x/next>; rel="next")"),
                  Pair("ngsild-tenant", "b")));
}

TEST(NotificationAttributesTest, UnannouncedJsonThatIsNotNgsiIsCustom) {
  const v1::NgsiEvent event = Parse(R"({"A":"1"})", {});
  EXPECT_EQ(event.format(), v1::CUSTOM);
  EXPECT_EQ(event.flavor(), v1::FLAVOR_UNSPECIFIED);
  EXPECT_EQ(event.body(), R"({"A":"1"})");
  const v1::NgsiEvent broken =
      Parse("{not json", {{"Content-Type", "application/json"}});
  EXPECT_EQ(broken.format(), v1::CUSTOM);
  const v1::NgsiEvent text =
      Parse(R"({"data":[]})", {{"Content-Type", "text/plain"}});
  EXPECT_EQ(text.format(), v1::CUSTOM);
}

}  // namespace
}  // namespace ngsi_bridge::receiver
