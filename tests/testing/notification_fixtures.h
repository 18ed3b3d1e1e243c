#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

// Loads ../shared/orion-fixtures/notifications/*.json as the HTTP requests
// the receiver gets. Test-only; plain functions, thread-compatible.
namespace ngsi_bridge::testing {

// One recorded broker notification as it arrives at the receiver.
struct NotificationFixture {
  std::string name;  // file name without ".json"
  std::string broker;
  std::string method;  // POST for MQTT, which has none
  std::string path;    // MQTT: "/" + topic
  std::string query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;       // the bytes as sent (body_raw, else body)
  std::string body_json;  // the fixture's "body": null, a string or JSON
};

// `NGSI_BRIDGE_SHARED` when set, else `default_shared_dir`, followed by
// "/orion-fixtures/notifications".
std::string NotificationFixtureDir(const std::string& default_shared_dir);

// Sorted names (without ".json") of the fixtures in `dir`; empty when the
// folder is missing.
std::vector<std::string> ListNotificationFixtures(const std::string& dir);

// kNotFound / kInvalidArgument when the file is missing or malformed.
absl::StatusOr<NotificationFixture> LoadNotificationFixture(
    const std::string& dir, const std::string& name);

}  // namespace ngsi_bridge::testing
