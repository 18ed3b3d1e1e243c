#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include "nlohmann/json.hpp"

namespace ngsi_bridge::replier::testing {

// ../shared/orion-fixtures/writeback/<name> next to the repository (or
// $NGSI_BRIDGE_SHARED), parsed; a discarded value when missing.
inline nlohmann::json LoadWritebackFixture(const std::string& name) {
  const char* env = std::getenv("NGSI_BRIDGE_SHARED");
  std::string shared;
  if (env != nullptr) {
    shared = env;
  } else {
    // __FILE__ is tests/replier-service/writeback_fixtures.h in the repo.
    const std::string here = __FILE__;
    shared = here.substr(0, here.rfind("/tests/")) + "/../shared";
  }
  std::ifstream in(shared + "/orion-fixtures/writeback/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return nlohmann::json::parse(text.str(), nullptr, false);
}

}  // namespace ngsi_bridge::replier::testing
