#include "replier-service/entity_renderer.h"

#include <string>

#include "common/ngsi_json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/replier-service/writeback_fixtures.h"

namespace ngsi_bridge::replier {
namespace {

using nlohmann::json;
using testing::LoadWritebackFixture;

// What the receiver makes of an entity (normalized or keyValues, v2 or LD),
// reduced to what these fixtures carry: enough to prove the renderer is
// its inverse.
v1::Attribute AttributeFrom(const json& doc, v1::Flavor flavor);

v1::Attribute AttributeFrom(const json& doc, v1::Flavor flavor) {
  v1::Attribute attr;
  if (!doc.is_object()) {
    attr.set_bare(true);
    *attr.mutable_value() = common::JsonToValue(doc);
    return attr;
  }
  for (const auto& [key, value] : doc.items()) {
    if (key == "type") {
      attr.set_type(value.get<std::string>());
    } else if (key == "value") {
      *attr.mutable_value() = common::JsonToValue(value);
    } else if (flavor == v1::NGSI_V2 && key == "metadata") {
      for (const auto& [name, meta] : value.items()) {
        (*attr.mutable_metadata())[name] = AttributeFrom(meta, flavor);
      }
    } else if (flavor == v1::NGSI_LD && key == "object") {
      *attr.mutable_object() = common::JsonToValue(value);
    } else if (flavor == v1::NGSI_LD && key == "observedAt") {
      attr.set_observed_at(value.get<std::string>());
    } else if (flavor == v1::NGSI_LD && key == "unitCode") {
      attr.set_unit_code(value.get<std::string>());
    } else if (flavor == v1::NGSI_LD && value.is_object()) {
      (*attr.mutable_metadata())[key] = AttributeFrom(value, flavor);
    } else {
      (*attr.mutable_extra())[key] = common::JsonToValue(value);
    }
  }
  return attr;
}

v1::Entity EntityFrom(const json& doc, v1::Flavor flavor) {
  v1::Entity entity;
  for (const auto& [key, value] : doc.items()) {
    if (key == "id") {
      entity.set_id(value.get<std::string>());
    } else if (key == "type" && value.is_string()) {
      entity.set_type(value.get<std::string>());
    } else if (key == "@context") {
      *entity.mutable_context() = common::JsonToValue(value);
    } else {
      (*entity.mutable_attrs())[key] = AttributeFrom(value, flavor);
    }
  }
  return entity;
}

void ExpectRoundTrip(const std::string& fixture_name, v1::Flavor flavor,
                     bool key_values) {
  const json fixture = LoadWritebackFixture(fixture_name);
  ASSERT_FALSE(fixture.is_discarded()) << fixture_name;
  const json& body = fixture["request"]["body"];
  const json& list = body.is_array() ? body : body["entities"];
  RenderOptions options;
  options.flavor = flavor;
  options.key_values = key_values;
  for (const json& entity : list) {
    const std::string rendered = RenderEntity(EntityFrom(entity, flavor),
                                              options);
    EXPECT_EQ(json::parse(rendered), entity) << fixture_name;
  }
}

TEST(EntityRendererTest, V2NormalizedWithMetadataRoundTrips) {
  ExpectRoundTrip("v2-40-op-update-delete-partial-422.json", v1::NGSI_V2,
                  false);
  ExpectRoundTrip("v2-37-op-update-partial-mixed-422.json", v1::NGSI_V2,
                  false);
  ExpectRoundTrip("v2-44-op-update-forbidden-chars-value-400.json",
                  v1::NGSI_V2, false);
  const json created =
      LoadWritebackFixture("v2-01-create-entity-normalized-201.json");
  RenderOptions options;
  const json entity = created["request"]["body"];
  EXPECT_EQ(json::parse(RenderEntity(EntityFrom(entity, v1::NGSI_V2),
                                     options)),
            entity);
}

TEST(EntityRendererTest, V2KeyValuesRoundTrips) {
  ExpectRoundTrip("v2-36-op-update-keyValues-204.json", v1::NGSI_V2, true);
}

TEST(EntityRendererTest, V2BareValueWithoutKeyValuesBecomesValueObject) {
  v1::Entity entity;
  entity.set_id("E1");
  v1::Attribute& attr = (*entity.mutable_attrs())["A1"];
  attr.set_bare(true);
  attr.mutable_value()->set_number_value(11);
  EXPECT_EQ(json::parse(RenderEntity(entity, RenderOptions{})),
            json::parse(R"({"id":"E1","A1":{"value":11}})"));
}

TEST(EntityRendererTest, LdNormalizedWithSubPropertiesRoundTrips) {
  ExpectRoundTrip("ld-14-batch-create-201.json", v1::NGSI_LD, false);
  ExpectRoundTrip("ld-23-batch-update-204.json", v1::NGSI_LD, false);
  ExpectRoundTrip("ld-15-batch-create-207-mixed.json", v1::NGSI_LD, false);
}

TEST(EntityRendererTest, LdRelationshipWithObservedAtAndNestedRelationship) {
  const json fixture =
      LoadWritebackFixture("ld-22-batch-upsert-update-mode-errors-207.json");
  const json entity = fixture["request"]["body"][0];
  RenderOptions options;
  options.flavor = v1::NGSI_LD;
  EXPECT_EQ(json::parse(RenderEntity(EntityFrom(entity, v1::NGSI_LD),
                                     options)),
            entity);
}

TEST(EntityRendererTest, LdEveryMemberOfTheModelIsWritten) {
  v1::Entity entity;
  entity.set_id("urn:ngsi-ld:T:1");
  entity.add_types("T");
  entity.add_types("U");
  entity.set_scope("/a");
  entity.set_created_at("2020-01-01T00:00:00Z");  // broker-managed: dropped
  v1::Attribute& lang = (*entity.mutable_attrs())["L"];
  lang.set_type("LanguageProperty");
  (*lang.mutable_language_map()->mutable_struct_value()->mutable_fields())["en"]
      .set_string_value("yes");
  v1::Attribute& vocab = (*entity.mutable_attrs())["V"];
  vocab.set_type("VocabularyProperty");
  vocab.mutable_vocab()->set_string_value("id");
  v1::Attribute& raw = (*entity.mutable_attrs())["J"];
  raw.set_type("JsonProperty");
  (*raw.mutable_json()->mutable_struct_value()->mutable_fields())["@id"]
      .set_string_value("x");
  v1::Attribute& multi = (*entity.mutable_attrs())["M"];
  for (const char* dataset : {"urn:a", "urn:b"}) {
    v1::Attribute* instance = multi.add_instances();
    instance->set_type("Property");
    instance->mutable_value()->set_number_value(1);
    instance->set_dataset_id(dataset);
    instance->mutable_previous_value()->set_number_value(0);  // dropped
  }
  v1::Attribute& where = (*entity.mutable_attrs())["location"];
  where.set_bare(true);
  auto* geometry = where.mutable_value()->mutable_struct_value()->mutable_fields();
  (*geometry)["type"].set_string_value("Point");
  (*geometry)["coordinates"].mutable_list_value()->add_values()->set_number_value(1);
  RenderOptions options;
  options.flavor = v1::NGSI_LD;
  EXPECT_EQ(json::parse(RenderEntity(entity, options)), json::parse(R"({
    "id":"urn:ngsi-ld:T:1","type":["T","U"],"scope":"/a",
    "L":{"type":"LanguageProperty","languageMap":{"en":"yes"}},
    "V":{"type":"VocabularyProperty","vocab":"id"},
    "J":{"type":"JsonProperty","json":{"@id":"x"}},
    "M":[{"type":"Property","value":1,"datasetId":"urn:a"},
         {"type":"Property","value":1,"datasetId":"urn:b"}],
    "location":{"type":"GeoProperty","value":{"type":"Point","coordinates":[1]}}
  })"));
}

TEST(EntityRendererTest, IdentityOnlyForDeletes) {
  v1::Entity entity;
  entity.set_id("urn:ngsi-ld:entity:E1");
  entity.set_type("T");
  (*entity.mutable_attrs())["A"].set_type("Property");
  RenderOptions options;
  options.identity_only = true;
  EXPECT_EQ(RenderEntity(entity, options),
            R"({"id":"urn:ngsi-ld:entity:E1","type":"T"})");
  options.flavor = v1::NGSI_LD;
  // writeback/ld-25: entityOperations/delete takes an array of ids.
  EXPECT_EQ(RenderEntity(entity, options), R"("urn:ngsi-ld:entity:E1")");
}

TEST(EntityRendererTest, InlineContextGoesIntoEveryEntity) {
  v1::Entity entity;
  entity.set_id("urn:ngsi-ld:entity:E2");
  entity.set_type("Vehicle");
  RenderOptions options;
  options.flavor = v1::NGSI_LD;
  auto& context = options.inline_context.emplace_back();
  (*context.mutable_struct_value()->mutable_fields())["Vehicle"]
      .set_string_value("http://example.org/Vehicle");
  EXPECT_EQ(json::parse(RenderEntity(entity, options)), json::parse(R"({
    "@context":{"Vehicle":"http://example.org/Vehicle"},
    "id":"urn:ngsi-ld:entity:E2","type":"Vehicle"})"));
}

}  // namespace
}  // namespace ngsi_bridge::replier
