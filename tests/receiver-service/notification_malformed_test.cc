// Malformed input: each case is kInvalidArgument with a message naming
// what is wrong (the HTTP layer turns it into a 400).
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "receiver-service/notification_parser.h"

namespace ngsi_bridge::receiver {
namespace {

using ::testing::HasSubstr;

using Headers = std::vector<std::pair<std::string, std::string>>;

const Headers kV2Normalized = {{"Ngsiv2-AttrsFormat", "normalized"}};
const Headers kLdNormalized = {{"Ngsild-Attribute-Format", "Normalized"}};

struct Malformed {
  const char* name;
  Headers headers;
  std::string body;
  const char* message;  // a substring of the error
};

std::vector<Malformed> Cases() {
  return {
      {"BadJsonV2", kV2Normalized, R"({"data":[)", "invalid JSON at byte"},
      {"BadJsonLd", kLdNormalized, "{]", "Normalized notification body"},
      {"BadJsonUnderLdJsonMedia",
       {{"Content-Type", "application/ld+json"}},
       "nope",
       "application/ld+json notification body: invalid JSON"},
      {"V2NormalizedWithoutData", kV2Normalized, R"({"subscriptionId":"s"})",
       "normalized notification has no \"data\" array"},
      {"V2KeyValuesDataNotArray",
       {{"Ngsiv2-AttrsFormat", "keyValues"}},
       R"({"data":{}})",
       "keyValues notification has no \"data\" array"},
      {"V2BodyIsArray", kV2Normalized, "[1]", "no \"data\" array"},
      {"ValuesEntityNotArray",
       {{"Ngsiv2-AttrsFormat", "values"}},
       R"({"data":[[1],{"id":"E"}]})",
       "values notification entity 1 is not an array"},
      {"SimplifiedNotObject",
       {{"Ngsiv2-AttrsFormat", "simplifiedNormalized"}},
       "[]",
       "simplifiedNormalized notification is not an object"},
      {"SimplifiedWithoutId",
       {{"Ngsiv2-AttrsFormat", "simplifiedKeyValues"}},
       R"({"type":"T","A":1})",
       "entity 0 has no \"id\""},
      {"LegacyWithoutContextResponses",
       {{"Ngsiv2-AttrsFormat", "legacy"}},
       R"({"subscriptionId":"s"})",
       "legacy notification has no \"contextResponses\" array"},
      {"LegacyWithoutContextElement", {},
       R"({"contextResponses":[{"statusCode":{}}]})",
       "context response 0 has no \"contextElement\" object"},
      {"LegacyAttributeWithoutName", {},
       R"({"contextResponses":[{"contextElement":{"id":"E",
           "attributes":[{"type":"T"}]}}]})",
       "entity 0 attribute 0 has no \"name\""},
      {"LegacyRepeatedAttribute", {},
       R"({"contextResponses":[{"contextElement":{"id":"E",
           "attributes":[{"name":"A"},{"name":"A"}]}}]})",
       "attribute \"A\" is repeated"},
      {"NonObjectEntity", kV2Normalized, R"({"data":[{"id":"E"},3]})",
       "entity 1 is not an object"},
      {"MissingId", kV2Normalized,
       R"({"data":[{"id":"E"},{"id":"F"},{"type":"T"}]})",
       "entity 2 has no \"id\""},
      {"IdNotString", kV2Normalized, R"({"data":[{"id":1}]})",
       "entity 0 \"id\" is not a string"},
      {"TypeNotString", kV2Normalized, R"({"data":[{"id":"E","type":[]}]})",
       "entity 0 \"type\" is not a string"},
      {"LdWithoutData", kLdNormalized,
       R"({"type":"Notification","subscriptionId":"s"})",
       "NGSI-LD notification has no \"data\" array"},
      {"LdDataNotArray", kLdNormalized, R"({"data":"x"})",
       "NGSI-LD notification has no \"data\" array"},
      {"LdEntityWithoutId", kLdNormalized, R"({"data":[{"type":"T"}]})",
       "entity 0 has no \"id\""},
      {"LdNonObjectEntity", kLdNormalized, R"({"data":[null]})",
       "entity 0 is not an object"},
      {"LegacyNotifierLdBodyWithoutData", kV2Normalized,
       R"({"type":"Notification","id":"urn:n"})",
       "NGSI-LD notification has no \"data\" array"},
      {"GeoJsonWithoutFeatureCollection",
       {{"Content-Type", "application/geo+json"}},
       R"({"type":"Notification","data":[]})",
       "GeoJSON notification has no \"data\" FeatureCollection"},
      {"GeoJsonFeatureWithoutId",
       {{"Content-Type", "application/geo+json"}},
       R"({"data":{"type":"FeatureCollection",
           "features":[{"type":"Feature"}]}})",
       "feature 0 has no \"id\""},
      {"InvalidUtf8InNgsiBody", kV2Normalized,
       "{\"data\":[{\"id\":\"\xC3\x28\"}]}", "invalid UTF-8 at byte offset 16"},
      {"InvalidUtf8InCustomBody",
       {{"Ngsiv2-AttrsFormat", "custom"}, {"Content-Type", "text/plain"}},
       "caf\xE9", "custom notification body: invalid UTF-8 at byte offset 3"},
      {"InvalidUtf8InUnannouncedBody", {}, "\xFF", "invalid UTF-8"},
      {"InvalidUtf8InHeader",
       {{"X-Custom", "\xC0\xAF"}},
       "", "header x-custom: invalid UTF-8"},
      {"TooDeep", kV2Normalized,
       R"({"data":[{"id":"E","A":{"value":)" + std::string(80, '[') +
           std::string(80, ']') + "}}]}",
       "JSON nesting deeper than 64"},
  };
}

class MalformedTest : public ::testing::TestWithParam<Malformed> {};

TEST_P(MalformedTest, IsInvalidArgumentNamingTheProblem) {
  const Malformed& input = GetParam();
  NotificationRequest request{"POST", "/notify", "", input.headers, input.body};
  const auto event = ParseNotification(request);
  ASSERT_FALSE(event.ok()) << input.name;
  EXPECT_EQ(event.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(event.status().message()), HasSubstr(input.message));
}

INSTANTIATE_TEST_SUITE_P(Inputs, MalformedTest, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return info.param.name; });

TEST(NotificationLimitsTest, RejectsMoreEntitiesThanTheLimit) {
  NotificationRequest request{"POST", "/notify", "", kV2Normalized,
                              R"({"data":[{"id":"A"},{"id":"B"},{"id":"C"}]})"};
  ParseLimits limits;
  limits.max_entities = 2;
  const auto event = ParseNotification(request, limits);
  ASSERT_FALSE(event.ok());
  EXPECT_EQ(event.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(event.status().message()),
              HasSubstr("3 entities, more than the limit of 2"));
  limits.max_entities = 3;
  EXPECT_TRUE(ParseNotification(request, limits).ok());
}

TEST(NotificationLimitsTest, DepthLimitIsTheConfiguredOne) {
  NotificationRequest request{"POST", "/notify", "", kV2Normalized,
                              R"({"data":[{"id":"E","A":{"value":[[1]]}}]})"};
  ParseLimits limits;
  limits.max_depth = 6;  // {[{{[[
  EXPECT_TRUE(ParseNotification(request, limits).ok());
  limits.max_depth = 5;
  const auto event = ParseNotification(request, limits);
  ASSERT_FALSE(event.ok());
  EXPECT_THAT(std::string(event.status().message()),
              HasSubstr("deeper than 5"));
}

TEST(NotificationLimitsTest, EmptyBodyIsNotMalformed) {
  NotificationRequest request{"POST", "/notify", "", kV2Normalized, ""};
  const auto event = ParseNotification(request);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->format(), v1::CUSTOM);
}

}  // namespace
}  // namespace ngsi_bridge::receiver
