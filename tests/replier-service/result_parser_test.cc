#include "replier-service/result_parser.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/replier-service/writeback_fixtures.h"

namespace ngsi_bridge::replier {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::LoadWritebackFixture;

// The entities a fixture's request sent (op/update or an LD array).
std::vector<SentEntity> SentOf(const nlohmann::json& fixture) {
  const nlohmann::json& body = fixture["request"]["body"];
  const nlohmann::json& list =
      body.is_object() && body.contains("entities") ? body["entities"] : body;
  std::vector<SentEntity> sent;
  for (const auto& entity : list) {
    if (entity.is_string()) {
      sent.push_back({entity.get<std::string>(), ""});
    } else {
      const auto text = [&](const char* key) {
        const auto it = entity.find(key);
        return it != entity.end() && it->is_string() ? it->get<std::string>()
                                                     : std::string();
      };
      sent.push_back({text("id"), text("type")});
    }
  }
  return sent;
}

Attribution AttributeFixture(const std::string& name) {
  const nlohmann::json fixture = LoadWritebackFixture(name);
  EXPECT_FALSE(fixture.is_discarded()) << name;
  const int status = fixture["response"]["status"].get<int>();
  const std::string body = fixture["response"]["body"].is_null()
                               ? ""
                               : fixture["response"]["body"].dump();
  if (fixture["request"]["path"].get<std::string>().rfind("/ngsi-ld", 0) ==
      0) {
    return AttributeLdResponse(SentOf(fixture), status, body);
  }
  return AttributeV2Response(SentOf(fixture), status, body);
}

TEST(ResultParserTest, ParsesMixedPartialUpdateDescription) {
  // writeback/v2-37: inconsistent " - " separator included.
  auto parsed = ParseV2FailureDescription(
      "do not exist: E1/T - [ C ], E3/T [entity itself]");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_FALSE(parsed->already_exist);
  ASSERT_EQ(parsed->items.size(), 2u);
  EXPECT_EQ(parsed->items[0].id, "E1");
  EXPECT_EQ(parsed->items[0].type, "T");
  EXPECT_THAT(parsed->items[0].attrs, ElementsAre("C"));
  EXPECT_EQ(parsed->items[1].id, "E3");
  EXPECT_TRUE(parsed->items[1].entity_itself);
}

TEST(ResultParserTest, ParsesAttributeListsWithCommasAndNoType) {
  // writeback/v2-22 (single-entity form without type).
  auto parsed = ParseV2FailureDescription(
      "one or more of the attributes in the request already exist: "
      "E - [ A, B ]");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->already_exist);
  ASSERT_EQ(parsed->items.size(), 1u);
  EXPECT_EQ(parsed->items[0].id, "E");
  EXPECT_EQ(parsed->items[0].type, "");
  EXPECT_THAT(parsed->items[0].attrs, ElementsAre("A", "B"));
}

TEST(ResultParserTest, RejectsTextOfAnotherShape) {
  EXPECT_FALSE(
      ParseV2FailureDescription("Invalid characters in attribute value").ok());
  EXPECT_FALSE(ParseV2FailureDescription("do not exist: E1/T").ok());
}

TEST(ResultParserTest, V2PartialUpdateFixtureGivesPerEntityResults) {
  const Attribution result =
      AttributeFixture("v2-37-op-update-partial-mixed-422.json");
  ASSERT_TRUE(result.complete);
  ASSERT_EQ(result.outcomes.size(), 2u);
  EXPECT_EQ(result.outcomes[0]->code, absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(result.outcomes[0]->failed_attrs, ElementsAre("C"));
  EXPECT_EQ(result.outcomes[0]->http_status, 422);
  EXPECT_THAT(result.outcomes[0]->broker_error, HasSubstr("PartialUpdate"));
  EXPECT_EQ(result.outcomes[1]->code, absl::StatusCode::kNotFound);
}

TEST(ResultParserTest, V2AllMissingFixtureIsNotFoundForEach) {
  const Attribution result =
      AttributeFixture("v2-38-op-update-all-missing-entities-404.json");
  ASSERT_TRUE(result.complete);
  for (const auto& outcome : result.outcomes) {
    EXPECT_EQ(outcome->code, absl::StatusCode::kNotFound);
    EXPECT_EQ(outcome->http_status, 404);
  }
}

TEST(ResultParserTest, V2DeletePartialFixtureLeavesUnnamedEntitiesOk) {
  const Attribution result =
      AttributeFixture("v2-40-op-update-delete-partial-422.json");
  ASSERT_TRUE(result.complete);
  ASSERT_EQ(result.outcomes.size(), 4u);
  EXPECT_EQ(result.outcomes[0]->code, absl::StatusCode::kOk);
  EXPECT_THAT(result.outcomes[1]->failed_attrs, ElementsAre("A2"));
  EXPECT_EQ(result.outcomes[2]->code, absl::StatusCode::kOk);
  EXPECT_THAT(result.outcomes[3]->failed_attrs, ElementsAre("A1"));
}

TEST(ResultParserTest, V2AppendStrictFixtureIsAlreadyExists) {
  const Attribution result =
      AttributeFixture("v2-32-op-update-appendStrict-existing-422.json");
  ASSERT_TRUE(result.complete);
  EXPECT_EQ(result.outcomes[0]->code, absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(result.outcomes[0]->failed_attrs, ElementsAre("A1"));
}

TEST(ResultParserTest, V2UpdateMissingAttrFixture) {
  const Attribution result =
      AttributeFixture("v2-33-op-update-update-missing-attr-422.json");
  EXPECT_EQ(result.outcomes[0]->code, absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(result.outcomes[0]->failed_attrs, ElementsAre("A3"));
}

TEST(ResultParserTest, V2SuccessFixturesAreOkForAll) {
  for (const char* name : {"v2-34-op-update-replace-204.json",
                           "v2-36-op-update-keyValues-204.json"}) {
    const Attribution result = AttributeFixture(name);
    ASSERT_TRUE(result.complete) << name;
    for (const auto& outcome : result.outcomes) {
      EXPECT_EQ(outcome->code, absl::StatusCode::kOk) << name;
    }
  }
}

TEST(ResultParserTest, V2NameNotSentMakesAttributionIncomplete) {
  const Attribution result = AttributeV2Response(
      {{"E1", "T"}, {"E2", "T"}}, 422,
      R"({"error":"PartialUpdate","description":"do not exist: E9/T - [ A ]"})");
  EXPECT_FALSE(result.complete);
}

TEST(ResultParserTest, V2BadRequestOnBatchIsIncompleteButOwnedBySingle) {
  const std::string body =
      R"({"error":"BadRequest","description":"Invalid characters in attribute value"})";
  EXPECT_FALSE(AttributeV2Response({{"E1", "T"}, {"E2", "T"}}, 400, body)
                   .complete);
  const Attribution single = AttributeV2Response({{"E1", "T"}}, 400, body);
  ASSERT_TRUE(single.complete);
  EXPECT_EQ(single.outcomes[0]->code, absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(single.outcomes[0]->broker_error,
            "BadRequest: Invalid characters in attribute value");
}

TEST(ResultParserTest, LdMultiStatusFixturesMapErrorsById) {
  const Attribution mixed =
      AttributeFixture("ld-15-batch-create-207-mixed.json");
  ASSERT_TRUE(mixed.complete);
  // E2 and E3 were sent; E1 (the broker's own duplicate-key case) was not.
  EXPECT_EQ(mixed.outcomes[0]->code, absl::StatusCode::kOk);
  EXPECT_EQ(mixed.outcomes[1]->code, absl::StatusCode::kOk);

  const Attribution deleted = AttributeFixture("ld-26-batch-delete-207.json");
  ASSERT_EQ(deleted.outcomes.size(), 2u);
  for (const auto& outcome : deleted.outcomes) {
    EXPECT_EQ(outcome->code, absl::StatusCode::kNotFound);
    EXPECT_EQ(outcome->http_status, 404);
    EXPECT_EQ(outcome->broker_error,
              "Entity Not Found: Cannot delete entities that do not exist");
  }

  const Attribution upsert =
      AttributeFixture("ld-22-batch-upsert-update-mode-errors-207.json");
  EXPECT_EQ(upsert.outcomes[0]->code, absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(upsert.outcomes[0]->broker_error, HasSubstr("no type"));
  EXPECT_THAT(upsert.outcomes[1]->broker_error,
              HasSubstr("must be a JSON String"));
}

TEST(ResultParserTest, LdSuccessFixturesAreOkForAll) {
  for (const char* name :
       {"ld-14-batch-create-201.json", "ld-18-batch-upsert-created-201.json",
        "ld-23-batch-update-204.json", "ld-25-batch-delete-204.json"}) {
    const Attribution result = AttributeFixture(name);
    ASSERT_TRUE(result.complete) << name;
    for (const auto& outcome : result.outcomes) {
      EXPECT_EQ(outcome->code, absl::StatusCode::kOk) << name;
    }
  }
}

TEST(ResultParserTest, LdProblemDetailsOnSingleEntity) {
  const Attribution result =
      AttributeFixture("ld-27-batch-delete-not-array-400.json");
  // The fixture's body is an object, not a list: one "entity" was sent.
  ASSERT_TRUE(result.complete);
  EXPECT_EQ(result.outcomes[0]->code, absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(result.outcomes[0]->broker_error,
            "Not a JSON Array: payload body must be a JSON Array");
}

TEST(ResultParserTest, StatusFromOrionResponseMapsLikeStyleSays) {
  EXPECT_TRUE(StatusFromOrionResponse(204, "").ok());
  EXPECT_EQ(StatusFromOrionResponse(400, "").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusFromOrionResponse(404, "").code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(StatusFromOrionResponse(503, "").code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusFromOrionResponse(429, "").code(),
            absl::StatusCode::kUnavailable);
  const nlohmann::json too_large =
      LoadWritebackFixture("v2-13-payload-too-large-413.json");
  const absl::Status status = StatusFromOrionResponse(
      413, too_large["response"]["body"].dump());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("RequestEntityTooLarge"));
  const nlohmann::json exists =
      LoadWritebackFixture("ld-02-create-entity-already-exists-409.json");
  EXPECT_EQ(StatusFromOrionResponse(409, exists["response"]["body"].dump())
                .code(),
            absl::StatusCode::kAlreadyExists);
}

}  // namespace
}  // namespace ngsi_bridge::replier
