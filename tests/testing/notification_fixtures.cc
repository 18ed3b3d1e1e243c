#include "tests/testing/notification_fixtures.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/ngsi_json.h"
#include "nlohmann/json.hpp"

namespace ngsi_bridge::testing {
namespace {

std::string StringOr(const nlohmann::json& doc, const char* key,
                     const std::string& fallback) {
  const auto it = doc.find(key);
  return it != doc.end() && it->is_string() ? it->get<std::string>()
                                            : fallback;
}

}  // namespace

std::string NotificationFixtureDir(const std::string& default_shared_dir) {
  const char* shared = std::getenv("NGSI_BRIDGE_SHARED");
  return absl::StrCat(shared != nullptr && *shared != '\0' ? shared
                                                           : default_shared_dir,
                      "/orion-fixtures/notifications");
}

std::vector<std::string> ListNotificationFixtures(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::string file = entry.path().filename().string();
    if (absl::EndsWith(file, ".json")) {
      names.push_back(file.substr(0, file.size() - 5));
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<NotificationFixture> LoadNotificationFixture(
    const std::string& dir, const std::string& name) {
  const std::string path = absl::StrCat(dir, "/", name, ".json");
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat("no fixture ", path));
  std::stringstream text;
  text << file.rdbuf();
  absl::StatusOr<nlohmann::json> doc = common::ParseJson(text.str());
  if (!doc.ok()) return doc.status();

  NotificationFixture fixture;
  fixture.name = name;
  fixture.broker = StringOr(*doc, "broker", "");
  fixture.method = StringOr(*doc, "method", "POST");
  if (doc->contains("topic")) {
    fixture.path = absl::StrCat("/", StringOr(*doc, "topic", ""));
  } else {
    // scheme://host:port/path?query
    std::string url = StringOr(*doc, "url", "/");
    const size_t scheme = url.find("://");
    if (scheme != std::string::npos) {
      const size_t slash = url.find('/', scheme + 3);
      url = slash == std::string::npos ? "/" : url.substr(slash);
    }
    const size_t question = url.find('?');
    fixture.path = url.substr(0, question);
    if (question != std::string::npos) fixture.query = url.substr(question + 1);
  }
  if (const auto headers = doc->find("headers"); headers != doc->end()) {
    for (auto it = headers->begin(); it != headers->end(); ++it) {
      if (it->is_string()) {
        fixture.headers.emplace_back(it.key(), it->get<std::string>());
      }
    }
  }
  const nlohmann::json& body = (*doc)["body"];
  fixture.body_json = body.dump();
  if (const auto raw = doc->find("body_raw");
      raw != doc->end() && raw->is_string()) {
    fixture.body = raw->get<std::string>();
  } else if (body.is_string()) {
    fixture.body = body.get<std::string>();
  } else if (!body.is_null()) {
    fixture.body = body.dump();
  }
  return fixture;
}

}  // namespace ngsi_bridge::testing
