#include "replier-service/replier_config.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace ngsi_bridge::replier {
namespace {

absl::Status CheckPort(const char* name, int port) {
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " out of range 0..65535: ", port));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseBroker(const std::string& text, BrokerConfig& out) {
  const auto bad = [&text](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("--broker '", text, "': ", why,
                     " (want NAME=URL[,flavor=v2|ld])"));
  };
  const std::vector<std::string> options = absl::StrSplit(text, ',');
  const std::vector<std::string> name_url =
      absl::StrSplit(options[0], absl::MaxSplits('=', 1));
  if (name_url.size() != 2 || name_url[0].empty()) return bad("no NAME=");
  out.name = name_url[0];
  out.url = std::string(absl::StripSuffix(name_url[1], "/"));
  if (!absl::StartsWith(out.url, "http://") &&
      !absl::StartsWith(out.url, "https://")) {
    return bad("URL must start with http:// or https://");
  }
  for (size_t i = 1; i < options.size(); ++i) {
    if (options[i] == "flavor=v2") {
      out.flavor = v1::NGSI_V2;
    } else if (options[i] == "flavor=ld") {
      out.flavor = v1::NGSI_LD;
    } else {
      return bad(absl::StrCat("unknown option '", options[i], "'"));
    }
  }
  return absl::OkStatus();
}

absl::Status ReplierConfig::Validate() const {
  if (absl::Status s = CheckPort("grpc_port", grpc_port); !s.ok()) return s;
  if (absl::Status s = CheckPort("admin_port", admin_port); !s.ok()) return s;
  std::set<std::string> names;
  for (const BrokerConfig& broker : brokers) {
    if (!names.insert(broker.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("--broker name '", broker.name, "' given twice"));
    }
  }
  return absl::OkStatus();
}

}  // namespace ngsi_bridge::replier
