#include "replier-service/entity_validator.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ngsi_bridge::replier {
namespace {

using ::testing::HasSubstr;

v1::Entity Make(const std::string& id, const std::string& type) {
  v1::Entity entity;
  entity.set_id(id);
  entity.set_type(type);
  return entity;
}

v1::Attribute Text(const std::string& value, const std::string& type = "Text") {
  v1::Attribute attr;
  attr.set_type(type);
  attr.mutable_value()->set_string_value(value);
  return attr;
}

TEST(EntityValidatorTest, AcceptsPlainV2Entity) {
  v1::Entity entity = Make("Room1", "Room");
  (*entity.mutable_attrs())["temperature"].mutable_value()->set_number_value(2);
  (*entity.mutable_attrs())["$avg"] = Text("ok");  // '$' names are legal
  EXPECT_TRUE(
      ValidateEntity(entity, v1::NGSI_V2, v1::OPERATION_UPSERT).ok());
}

TEST(EntityValidatorTest, RejectsEveryForbiddenCharacterInIds) {
  for (const char c : std::string("<>\"'=;()&?/# ")) {
    const absl::Status status = ValidateEntity(
        Make(std::string("E") + c, "T"), v1::NGSI_V2, v1::OPERATION_UPSERT);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c;
    EXPECT_THAT(status.message(), HasSubstr("entity id")) << c;
  }
}

TEST(EntityValidatorTest, RejectsNonAsciiIdLikeOrion) {
  // writeback/v2-06: "España" -> 400 Invalid characters in entity id.
  EXPECT_THAT(ValidateEntity(Make("Espa\xc3\xb1" "a", "T1"), v1::NGSI_V2,
                             v1::OPERATION_CREATE)
                  .message(),
              HasSubstr("not printable ASCII"));
}

TEST(EntityValidatorTest, EnforcesIdentifierLengthOneTo256) {
  // writeback/v2-08 and v2-09.
  v1::Entity entity = Make("E1", "T1");
  (*entity.mutable_attrs())[std::string(257, 'a')] = Text("06", "AT1");
  EXPECT_THAT(
      ValidateEntity(entity, v1::NGSI_V2, v1::OPERATION_CREATE).message(),
      HasSubstr("257 characters long"));
  EXPECT_THAT(ValidateEntity(Make("", "T1"), v1::NGSI_V2,
                             v1::OPERATION_CREATE)
                  .message(),
              HasSubstr("entity id is empty"));
  v1::Entity no_id;
  EXPECT_THAT(
      ValidateEntity(no_id, v1::NGSI_V2, v1::OPERATION_CREATE).message(),
      HasSubstr("no id"));
  EXPECT_TRUE(ValidateEntity(Make(std::string(256, 'e'), "T"), v1::NGSI_V2,
                             v1::OPERATION_CREATE)
                  .ok());
}

TEST(EntityValidatorTest, RejectsForbiddenCharactersInNestedStringValues) {
  // writeback/v2-12 and v2-44: Orion checks compound values too.
  v1::Entity entity = Make("room", "Room");
  v1::Attribute& attr = (*entity.mutable_attrs())["temperature"];
  attr.set_type("StructuredValue");
  (*attr.mutable_value()->mutable_struct_value()->mutable_fields())["x"]
      .set_string_value("a(7)");
  EXPECT_THAT(
      ValidateEntity(entity, v1::NGSI_V2, v1::OPERATION_UPDATE).message(),
      HasSubstr("forbidden character '('"));
  v1::Entity flat = Make("E1", "T1");
  (*flat.mutable_attrs())["A1"] = Text("house<flat>");
  EXPECT_FALSE(ValidateEntity(flat, v1::NGSI_V2, v1::OPERATION_APPEND).ok());
}

TEST(EntityValidatorTest, TextUnrestrictedAllowsForbiddenCharacters) {
  // notifications/v2-49: TextUnrestricted lets values carry them.
  v1::Entity entity = Make("E1", "T");
  (*entity.mutable_attrs())["A"] = Text("it's (ok)", "TextUnrestricted");
  EXPECT_TRUE(ValidateEntity(entity, v1::NGSI_V2, v1::OPERATION_UPSERT).ok());
}

TEST(EntityValidatorTest, ChecksMetadataNamesAndValues) {
  v1::Entity entity = Make("E1", "T");
  v1::Attribute& attr = (*entity.mutable_attrs())["A"];
  attr = Text("fine");
  (*attr.mutable_metadata())["unit"] = Text("C;");
  EXPECT_THAT(
      ValidateEntity(entity, v1::NGSI_V2, v1::OPERATION_UPSERT).message(),
      HasSubstr("metadata 'unit'"));
}

TEST(EntityValidatorTest, LdIdsMustBeUrisAndValuesAreFree) {
  EXPECT_THAT(ValidateEntity(Make("E1", "T"), v1::NGSI_LD,
                             v1::OPERATION_UPSERT)
                  .message(),
              HasSubstr("not a URI"));
  v1::Entity entity = Make("urn:ngsi-ld:T:E/1#x", "https://ex.org/T");
  (*entity.mutable_attrs())["https://ex.org/name"] = Text("a(b)=c");
  EXPECT_TRUE(ValidateEntity(entity, v1::NGSI_LD, v1::OPERATION_UPSERT).ok());
}

TEST(EntityValidatorTest, LdCreateNeedsAType) {
  v1::Entity entity;
  entity.set_id("urn:ngsi-ld:Vehicle:309");
  // writeback/ld-22: "no type in incoming payload for CREATION of Entity".
  EXPECT_THAT(
      ValidateEntity(entity, v1::NGSI_LD, v1::OPERATION_UPSERT).message(),
      HasSubstr("no type"));
  EXPECT_TRUE(ValidateEntity(entity, v1::NGSI_LD, v1::OPERATION_UPDATE).ok());
}

TEST(EntityValidatorTest, DeleteIgnoresValues) {
  v1::Entity entity = Make("E1", "T");
  (*entity.mutable_attrs())["A"] = Text("<x>");
  EXPECT_TRUE(ValidateEntity(entity, v1::NGSI_V2, v1::OPERATION_DELETE).ok());
}

// Every byte in every place a v2 entity carries text: the verdict (and the
// message naming the place) is the same whichever check gives it.
TEST(EntityValidatorTest, EveryByteInEveryPlaceIsJudgedLikeOrion) {
  const std::string forbidden = "<>\"'=;()";
  const std::string forbidden_in_ids = forbidden + "&?/#";
  for (int b = 1; b < 256; ++b) {
    const char c = static_cast<char>(b);
    const std::string text = std::string("a") + c + "b";
    const bool printable = b > 0x20 && b < 0x7F;
    const bool id_ok = printable && forbidden_in_ids.find(c) == std::string::npos;
    const bool value_ok = forbidden.find(c) == std::string::npos;
    struct Place {
      const char* named;
      v1::Entity entity;
      bool ok;
    };
    std::vector<Place> places;
    {
      v1::Entity e = Make("E1", "T");
      (*e.mutable_attrs())[text] = Text("v");
      places.push_back({"attribute name", e, id_ok});
    }
    {
      v1::Entity e = Make("E1", "T");
      (*e.mutable_attrs())["A"] = Text("v", text);
      places.push_back({"type", e, id_ok});
    }
    {
      v1::Entity e = Make("E1", "T");
      (*e.mutable_attrs())["A"] = Text(text);
      places.push_back({"value", e, value_ok});
    }
    {
      v1::Entity e = Make("E1", "T");
      v1::Attribute& a = (*e.mutable_attrs())["A"];
      a.set_type("StructuredValue");
      auto& fields = *a.mutable_value()->mutable_struct_value()->mutable_fields();
      fields[text].set_string_value("v");
      places.push_back({"value", e, value_ok});
    }
    {
      v1::Entity e = Make("E1", "T");
      v1::Attribute& a = (*e.mutable_attrs())["A"];
      a.set_type("StructuredValue");
      a.mutable_value()->mutable_list_value()->add_values()->set_string_value(text);
      places.push_back({"value", e, value_ok});
    }
    {
      v1::Entity e = Make("E1", "T");
      v1::Attribute& a = (*e.mutable_attrs())["A"];
      a = Text("v");
      (*a.mutable_metadata())["m"] = Text(text);
      places.push_back({"metadata 'm'", e, value_ok});
    }
    for (const Place& place : places) {
      const absl::Status status =
          ValidateEntity(place.entity, v1::NGSI_V2, v1::OPERATION_UPSERT);
      EXPECT_EQ(status.ok(), place.ok) << "byte " << b << " in " << place.named;
      if (!status.ok()) {
        EXPECT_THAT(status.message(), HasSubstr(place.named)) << "byte " << b;
      }
    }
  }
}

}  // namespace
}  // namespace ngsi_bridge::replier
