#include "replier-service/replier_config.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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

bool IsSecretOption(absl::string_view option) {
  return absl::StartsWith(option, "token=") ||
         absl::StartsWith(option, "auth=") ||
         absl::StartsWith(option, "client_secret=");
}

}  // namespace

int BrokerConfig::EffectiveMaxEntities() const {
  if (max_entities > 0) return max_entities;
  return flavor == v1::NGSI_LD ? kDefaultMaxEntitiesLd : kDefaultMaxEntitiesV2;
}

std::string RedactBrokerFlag(const std::string& text) {
  std::vector<std::string> options = absl::StrSplit(text, ',');
  // NAME=scheme://user:password@host/... keeps only "***@host".
  std::string& url = options[0];
  const size_t scheme = url.find("://");
  if (scheme != std::string::npos) {
    const size_t start = scheme + 3;
    const size_t at = url.find('@', start);
    if (at != std::string::npos && at < url.find('/', start)) {
      url.replace(start, at - start, "***");
    }
  }
  for (std::string& option : options) {
    if (IsSecretOption(option)) {
      option = absl::StrCat(option.substr(0, option.find('=')), "=***");
    }
  }
  return absl::StrJoin(options, ",");
}

absl::Status ParseBroker(const std::string& text, BrokerConfig& out) {
  const auto bad = [&text](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--broker '", RedactBrokerFlag(text), "': ", why,
        " (want NAME=URL[,flavor=v2|ld][,service=..][,service_path=..]"
        "[,token=..|auth=..][,timeout_ms=..][,max_connections=..]"
        "[,max_entities=..][,max_bytes=..])"));
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
  if (absl::StrContains(out.url, "?") || absl::StrContains(out.url, "#")) {
    return bad("URL must not carry a query or fragment");
  }
  // user:password@ would end up in ListBrokers and logs.
  const size_t authority = out.url.find("://") + 3;
  if (out.url.substr(authority, out.url.find('/', authority) - authority)
          .find('@') != std::string::npos) {
    return bad("URL must not carry credentials (use token= or auth=)");
  }
  for (size_t i = 1; i < options.size(); ++i) {
    const std::vector<std::string> kv =
        absl::StrSplit(options[i], absl::MaxSplits('=', 1));
    const std::string& key = kv[0];
    const std::string value = kv.size() == 2 ? kv[1] : "";
    // Names the option without echoing a secret value.
    const std::string shown =
        IsSecretOption(options[i]) ? key + "=***" : options[i];
    const auto positive = [&](int64_t& number) {
      return absl::SimpleAtoi(value, &number) && number > 0;
    };
    int64_t number = 0;
    if (kv.size() != 2) {
      return bad(absl::StrCat("unknown option '", shown, "'"));
    } else if (key == "flavor" && value == "v2") {
      out.flavor = v1::NGSI_V2;
    } else if (key == "flavor" && value == "ld") {
      out.flavor = v1::NGSI_LD;
    } else if (key == "service") {
      out.service = value;
    } else if (key == "service_path") {
      out.service_path = value;
    } else if (key == "token") {
      out.token = value;
    } else if (key == "auth") {
      out.authorization = value;
    } else if (key == "token_url") {
      out.oauth2_token_url = value;
    } else if (key == "client_id") {
      out.oauth2_client_id = value;
    } else if (key == "client_secret") {
      out.oauth2_client_secret = value;
    } else if (key == "client_secret_file") {
      out.oauth2_client_secret_file = value;
    } else if (key == "ca_file") {
      out.ca_file = value;
    } else if (key == "insecure" && (value == "true" || value == "false")) {
      out.insecure = value == "true";
    } else if (key == "timeout_ms" || key == "max_connections" ||
               key == "max_entities" || key == "max_bytes") {
      if (!positive(number) || (key != "max_bytes" && number > (1 << 30))) {
        return bad(absl::StrCat("'", shown, "' is not a positive number"));
      }
      if (key == "timeout_ms") out.timeout_ms = static_cast<int>(number);
      if (key == "max_connections") {
        out.max_connections = static_cast<int>(number);
      }
      if (key == "max_entities") out.max_entities = static_cast<int>(number);
      if (key == "max_bytes") out.max_bytes = number;
    } else {
      return bad(absl::StrCat("unknown option '", shown, "'"));
    }
  }
  if (!out.token.empty() && !out.authorization.empty()) {
    return bad("give token= or auth=, not both");
  }
  const bool oauth2 = !out.oauth2_token_url.empty() ||
                      !out.oauth2_client_id.empty() ||
                      !out.oauth2_client_secret.empty() ||
                      !out.oauth2_client_secret_file.empty();
  if (oauth2 && (out.oauth2_token_url.empty() ||
                 out.oauth2_client_id.empty() ||
                 out.oauth2_client_secret.empty() ==
                     out.oauth2_client_secret_file.empty())) {
    return bad("OAuth2 needs token_url=, client_id= and one of "
               "client_secret= or client_secret_file=");
  }
  if (oauth2 && (!out.token.empty() || !out.authorization.empty())) {
    return bad("give token=/auth= or OAuth2 client credentials, not both");
  }
  return absl::OkStatus();
}

absl::Status ReplierConfig::Validate() const {
  if (absl::Status s = CheckPort("grpc_port", grpc_port); !s.ok()) return s;
  if (absl::Status s = CheckPort("admin_port", admin_port); !s.ok()) return s;
  if (worker_threads < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--worker_threads must be >= 1: ", worker_threads));
  }
  if (retry.max_attempts < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--retry_max_attempts must be >= 1: ", retry.max_attempts));
  }
  if (stream_window < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--stream_window must be >= 1: ", stream_window));
  }
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
