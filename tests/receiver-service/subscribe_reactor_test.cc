// EventMatcher: the server-side filters of EventStream.Subscribe. The
// streaming itself is covered by tests/integration/receiver_stream_test.cc.
#include "receiver-service/subscribe_reactor.h"

#include "gtest/gtest.h"

namespace ngsi_bridge::receiver {
namespace {

v1::NgsiEvent Event() {
  v1::NgsiEvent event;
  event.set_service("smartcity");
  event.set_service_path("/madrid/centro");
  for (const char* id : {"urn:Room:1", "urn:Car:2"}) {
    v1::Entity* entity = event.add_entities();
    entity->set_id(id);
    entity->set_type(absl::string_view(id).substr(4, 3) == "Roo" ? "Room"
                                                                  : "Car");
    (*entity->mutable_attrs())["temperature"].set_type("Number");
    (*entity->mutable_attrs())["pressure"].set_type("Number");
  }
  return event;
}

const v1::NgsiEvent* Apply(const v1::EventFilter& filter,
                           const v1::NgsiEvent& event,
                           v1::NgsiEvent& scratch) {
  auto matcher = EventMatcher::Create(filter);
  EXPECT_TRUE(matcher.ok()) << matcher.status();
  return (*matcher)->Apply(event, scratch);
}

TEST(EventMatcherTest, EmptyFilterPassesTheEventItself) {
  const v1::NgsiEvent event = Event();
  v1::NgsiEvent scratch;
  EXPECT_EQ(Apply({}, event, scratch), &event);
}

TEST(EventMatcherTest, ServiceIsExact) {
  const v1::NgsiEvent event = Event();
  v1::NgsiEvent scratch;
  v1::EventFilter filter;
  filter.set_service("smart");
  EXPECT_EQ(Apply(filter, event, scratch), nullptr);
  filter.set_service("smartcity");
  EXPECT_EQ(Apply(filter, event, scratch), &event);
}

TEST(EventMatcherTest, ServicePathPrefixMatchesWholeSegments) {
  const v1::NgsiEvent event = Event();
  v1::NgsiEvent scratch;
  v1::EventFilter filter;
  for (const char* prefix : {"/", "/madrid", "/madrid/", "/madrid/centro"}) {
    filter.set_service_path_prefix(prefix);
    EXPECT_EQ(Apply(filter, event, scratch), &event) << prefix;
  }
  for (const char* prefix : {"/mad", "/madrid/centr", "/barcelona"}) {
    filter.set_service_path_prefix(prefix);
    EXPECT_EQ(Apply(filter, event, scratch), nullptr) << prefix;
  }
}

TEST(EventMatcherTest, EntityTypeKeepsOnlyMatchingEntities) {
  const v1::NgsiEvent event = Event();
  v1::NgsiEvent scratch;
  v1::EventFilter filter;
  filter.set_entity_type("Car");
  const v1::NgsiEvent* out = Apply(filter, event, scratch);
  ASSERT_EQ(out, &scratch);
  ASSERT_EQ(out->entities_size(), 1);
  EXPECT_EQ(out->entities(0).id(), "urn:Car:2");
  EXPECT_EQ(out->service(), "smartcity");
  filter.set_entity_type("Bus");
  EXPECT_EQ(Apply(filter, event, scratch), nullptr);
}

TEST(EventMatcherTest, EntityIdExactAndPatternFullMatch) {
  const v1::NgsiEvent event = Event();
  v1::NgsiEvent scratch;
  v1::EventFilter filter;
  filter.set_entity_id("urn:Room:1");
  ASSERT_NE(Apply(filter, event, scratch), nullptr);
  EXPECT_EQ(scratch.entities_size(), 1);
  filter.clear_entity_id();
  filter.set_entity_id_pattern("urn:Room");  // full match: no
  EXPECT_EQ(Apply(filter, event, scratch), nullptr);
  filter.set_entity_id_pattern("urn:(Room|Car):\\d+");
  const v1::NgsiEvent* all = Apply(filter, event, scratch);
  EXPECT_EQ(all, &event);  // every entity matches: no copy
}

TEST(EventMatcherTest, AttrsProjectEveryEntity) {
  const v1::NgsiEvent event = Event();
  v1::NgsiEvent scratch;
  v1::EventFilter filter;
  filter.add_attrs("temperature");
  filter.add_attrs("missing");
  ASSERT_EQ(Apply(filter, event, scratch), &scratch);
  ASSERT_EQ(scratch.entities_size(), 2);
  for (const v1::Entity& entity : scratch.entities()) {
    EXPECT_EQ(entity.attrs().size(), 1u);
    EXPECT_TRUE(entity.attrs().contains("temperature"));
  }
}

TEST(EventMatcherTest, EventWithoutEntitiesFailsEntityFilters) {
  v1::NgsiEvent custom;
  custom.set_body("hello");
  v1::NgsiEvent scratch;
  v1::EventFilter filter;
  filter.set_entity_type("Room");
  EXPECT_EQ(Apply(filter, custom, scratch), nullptr);
}

TEST(EventMatcherTest, InvalidPatternIsInvalidArgumentNamingIt) {
  v1::EventFilter filter;
  filter.set_entity_id_pattern("urn:(");
  auto matcher = EventMatcher::Create(filter);
  EXPECT_EQ(matcher.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(matcher.status().message().find("urn:("), absl::string_view::npos);
}

}  // namespace
}  // namespace ngsi_bridge::receiver
