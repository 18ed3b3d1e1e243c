#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "receiver-service/notification_parser.h"
#include "tests/testing/notification_fixtures.h"

// Helpers shared by the notification parser tests (header-only, tests only).
namespace ngsi_bridge::receiver {

inline std::string FixtureDir() {
  return testing::NotificationFixtureDir(NB_SOURCE_DIR "/../shared");
}

inline NotificationRequest ToRequest(
    const testing::NotificationFixture& fixture) {
  NotificationRequest request;
  request.method = fixture.method;
  request.path = fixture.path;
  request.query = fixture.query;
  request.headers = fixture.headers;
  request.body = fixture.body;
  return request;
}

// Parses the named fixture as the receiver would get it.
inline absl::StatusOr<v1::NgsiEvent> ParseFixture(const std::string& name) {
  absl::StatusOr<testing::NotificationFixture> fixture =
      testing::LoadNotificationFixture(FixtureDir(), name);
  if (!fixture.ok()) return fixture.status();
  return ParseNotification(ToRequest(*fixture));
}

}  // namespace ngsi_bridge::receiver
