// The replier's direct JSON writer against the DOM renderer it replaced
// (tests/testing/dom_entity_renderer.h): the same bytes for every entity of
// every recorded notification, under every render option, and for the
// corner cases a DOM settles implicitly (repeated keys, key order, escapes,
// numbers, invalid UTF-8). Lives here because it needs the receiver's
// parser to turn the fixtures into entities.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "receiver-service/notification_parser.h"
#include "replier-service/entity_renderer.h"
#include "tests/testing/dom_entity_renderer.h"
#include "tests/testing/notification_fixtures.h"

namespace ngsi_bridge::replier {
namespace {

std::string FixtureDir() {
  const std::string here = __FILE__;  // tests/integration/... in the repo
  return ngsi_bridge::testing::NotificationFixtureDir(
      here.substr(0, here.rfind("/tests/")) + "/../shared");
}

std::vector<RenderOptions> EveryOption() {
  google::protobuf::Value core;
  core.set_string_value(
      "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld");
  google::protobuf::Value own;
  (*own.mutable_struct_value()->mutable_fields())["name"].set_string_value(
      "https://schema.org/name");
  std::vector<RenderOptions> all;
  for (const v1::Flavor flavor : {v1::NGSI_V2, v1::NGSI_LD}) {
    for (int bits = 0; bits < 4; ++bits) {
      for (size_t contexts = 0; contexts <= 2; ++contexts) {
        RenderOptions options;
        options.flavor = flavor;
        options.key_values = (bits & 1) != 0;
        options.identity_only = (bits & 2) != 0;
        if (contexts >= 1) options.inline_context.push_back(core);
        if (contexts == 2) options.inline_context.push_back(own);
        all.push_back(options);
      }
    }
  }
  return all;
}

// Compares both renderers on `entity` and each of its attributes.
void ExpectSameAsDom(const v1::Entity& entity, const std::string& where) {
  for (const RenderOptions& options : EveryOption()) {
    const std::string what =
        where + " flavor " + std::to_string(options.flavor) + " keyValues " +
        std::to_string(options.key_values) + " identity " +
        std::to_string(options.identity_only) + " contexts " +
        std::to_string(options.inline_context.size());
    ASSERT_EQ(RenderEntity(entity, options),
              ngsi_bridge::testing::RenderEntityByDom(entity, options))
        << what;
    for (const auto& [name, attr] : entity.attrs()) {
      ASSERT_EQ(RenderAttribute(attr, options),
                ngsi_bridge::testing::RenderAttributeByDom(attr, options))
          << what << " attribute " << name;
    }
  }
}

TEST(EntityRendererEquivalenceTest, EveryFixtureEntityRendersAsTheDomDid) {
  const std::string dir = FixtureDir();
  const std::vector<std::string> names =
      ngsi_bridge::testing::ListNotificationFixtures(dir);
  ASSERT_GT(names.size(), 50u) << dir;
  size_t entities = 0;
  for (const std::string& name : names) {
    auto fixture = ngsi_bridge::testing::LoadNotificationFixture(dir, name);
    ASSERT_TRUE(fixture.ok()) << fixture.status();
    receiver::NotificationRequest request;
    request.method = fixture->method;
    request.path = fixture->path;
    request.query = fixture->query;
    request.headers = fixture->headers;
    request.body = fixture->body;
    auto event = receiver::ParseNotification(request);
    if (!event.ok()) continue;  // fixtures of rejected notifications
    for (const v1::Entity& entity : event->entities()) {
      ExpectSameAsDom(entity, name);
      ++entities;
    }
  }
  EXPECT_GE(entities, 40u);  // 47 in the fixtures of 2026-12
}

TEST(EntityRendererEquivalenceTest, RepeatedKeysKeepWhatTheDomKept) {
  v1::Entity entity;
  entity.set_id("E1");
  entity.set_type("T");
  entity.add_types("T2");  // types win over type
  // An attribute named like the identity replaces it; an extra member
  // named like an attribute does not replace the attribute.
  (*entity.mutable_attrs())["type"].mutable_value()->set_string_value("x");
  (*entity.mutable_attrs())["A"].mutable_value()->set_number_value(1);
  (*entity.mutable_extra())["A"].set_string_value("extra loses");
  (*entity.mutable_extra())["Z"].set_bool_value(true);
  v1::Attribute& attr = (*entity.mutable_attrs())["B"];
  attr.set_type("Property");
  attr.mutable_value()->set_number_value(2);
  // An LD sub-property and an extra member named like members the
  // attribute renders itself: the later assignment wins.
  (*attr.mutable_metadata())["value"].mutable_value()->set_number_value(3);
  (*attr.mutable_extra())["type"].set_string_value("extra wins");
  (*attr.mutable_extra())["observedAt"].set_null_value(
      google::protobuf::NULL_VALUE);
  attr.set_observed_at("2026-01-01T00:00:00Z");
  (*attr.mutable_metadata())["unit"].set_type("Text");
  ExpectSameAsDom(entity, "repeated keys");
}

TEST(EntityRendererEquivalenceTest, EscapesNumbersAndBadUtf8AsTheDomDid) {
  v1::Entity entity;
  entity.set_id("E\"1\\");
  entity.set_type("T");
  std::string every_byte;
  for (int b = 1; b < 0x80; ++b) every_byte += static_cast<char>(b);
  const std::vector<std::string> texts = {
      every_byte, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\xc3",
      "a\xff" "b", "\xed\xa0\x80", "\xc0\xaf", std::string("nul\0in", 6), ""};
  const std::vector<double> numbers = {
      0.0, -0.0, 1, -1, 0.1, 1.5, -2.25, 1e-7, 1e15, 1e16, 123456789.125,
      9007199254740991.0, 9007199254740992.0, -9007199254740993.0, 1e300,
      std::numeric_limits<double>::denorm_min(),
      std::numeric_limits<double>::quiet_NaN(),
      std::numeric_limits<double>::infinity()};
  auto& attrs = *entity.mutable_attrs();
  for (size_t i = 0; i < texts.size(); ++i) {
    v1::Attribute& attr = attrs["text" + std::to_string(i)];
    attr.set_type("Text");
    attr.mutable_value()->set_string_value(texts[i]);
    (*attr.mutable_metadata())[texts[i]].mutable_value()->set_string_value(
        texts[i]);
  }
  v1::Attribute& list = attrs["numbers"];
  list.set_bare(true);
  for (const double number : numbers) {
    list.mutable_value()->mutable_list_value()->add_values()->set_number_value(
        number);
  }
  v1::Attribute& nested = attrs["nested"];
  auto& fields = *nested.mutable_value()->mutable_struct_value()
                      ->mutable_fields();
  fields["z"].set_number_value(0.5);
  fields["a"].mutable_list_value()->add_values()->set_null_value(
      google::protobuf::NULL_VALUE);
  fields["\xc3\xa9"].mutable_struct_value();
  fields["M"].set_bool_value(false);
  v1::Attribute& instances = attrs["multi"];
  instances.add_instances()->set_dataset_id("urn:a");
  instances.add_instances()->set_bare(true);
  ExpectSameAsDom(entity, "escapes and numbers");
}

}  // namespace
}  // namespace ngsi_bridge::replier
