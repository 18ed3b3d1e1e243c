#include "replier-service/broker_token_source.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "httplib.h"
#include "nlohmann/json.hpp"

namespace ngsi_bridge::replier {

BrokerTokenSource::BrokerTokenSource(const BrokerConfig& broker,
                                     std::string secret, std::string origin,
                                     std::string path)
    : broker_(broker),
      secret_(std::move(secret)),
      origin_(std::move(origin)),
      path_(std::move(path)) {}

absl::StatusOr<std::unique_ptr<BrokerTokenSource>> BrokerTokenSource::Create(
    const BrokerConfig& broker) {
  const std::string& url = broker.oauth2_token_url;
  if (!absl::StartsWith(url, "http://") && !absl::StartsWith(url, "https://")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "broker '", broker.name, "' token_url must be http:// or https://"));
  }
  const size_t path_start = url.find('/', url.find("://") + 3);
  std::string origin = url.substr(0, path_start);
  std::string path =
      path_start == std::string::npos ? "/" : url.substr(path_start);
  std::string secret = broker.oauth2_client_secret;
  if (!broker.oauth2_client_secret_file.empty()) {
    std::ifstream in(broker.oauth2_client_secret_file, std::ios::binary);
    if (!in) {
      return absl::NotFoundError(
          absl::StrCat("broker '", broker.name, "': cannot read ",
                       broker.oauth2_client_secret_file));
    }
    std::stringstream text;
    text << in.rdbuf();
    secret = text.str();
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) {
      secret.pop_back();
    }
  }
  return std::unique_ptr<BrokerTokenSource>(new BrokerTokenSource(
      broker, std::move(secret), std::move(origin), std::move(path)));
}

absl::StatusOr<std::string> BrokerTokenSource::Token(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (!token_.empty() && absl::Now() < expires_) return token_;
  return Fetch(deadline);
}

void BrokerTokenSource::Invalidate(const std::string& token) {
  absl::MutexLock lock(&mu_);
  if (token_ == token) token_.clear();
}

int BrokerTokenSource::fetch_count() const {
  absl::MutexLock lock(&mu_);
  return fetches_;
}

absl::StatusOr<std::string> BrokerTokenSource::Fetch(absl::Time deadline) {
  ++fetches_;
  httplib::Client client(origin_);
  if (!broker_.ca_file.empty()) client.set_ca_cert_path(broker_.ca_file);
  client.enable_server_certificate_verification(!broker_.insecure);
  const auto timeout = std::chrono::microseconds(std::max<int64_t>(
      1000, absl::ToInt64Microseconds(
                std::min(deadline - absl::Now(),
                         absl::Milliseconds(broker_.timeout_ms)))));
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  client.set_write_timeout(timeout);
  const httplib::Headers headers = {
      {"Authorization",
       "Basic " + absl::Base64Escape(absl::StrCat(broker_.oauth2_client_id,
                                                  ":", secret_))},
      {"Accept", "application/json"}};
  httplib::Result result =
      client.Post(path_, headers, "grant_type=client_credentials",
                  "application/x-www-form-urlencoded");
  const std::string where =
      absl::StrCat("token endpoint of broker '", broker_.name, "'");
  if (!result) {
    return absl::UnavailableError(absl::StrCat(
        where, " unreachable: ", httplib::to_string(result.error())));
  }
  if (result->status == 400 || result->status == 401 ||
      result->status == 403) {
    // The body may echo the client id; never the secret, but keep it out.
    return absl::PermissionDeniedError(absl::StrCat(
        where, " refused the client credentials (HTTP ", result->status,
        ")"));
  }
  if (result->status / 100 != 2) {
    return absl::UnavailableError(
        absl::StrCat(where, " answered HTTP ", result->status));
  }
  const nlohmann::json doc = nlohmann::json::parse(
      result->body, /*cb=*/nullptr, /*allow_exceptions=*/false);
  const auto token = doc.find("access_token");
  if (token == doc.end() || !token->is_string() ||
      token->get<std::string>().empty()) {
    return absl::UnavailableError(
        absl::StrCat(where, " answered without an access_token"));
  }
  int64_t expires_in = 3600;
  const auto expiry = doc.find("expires_in");
  if (expiry != doc.end() && expiry->is_number()) {
    expires_in = std::max<int64_t>(1, expiry->get<int64_t>());
  }
  token_ = token->get<std::string>();
  // Renew a minute early (or halfway for short-lived tokens) so a token
  // does not expire on its way to the broker.
  expires_ = absl::Now() +
             absl::Seconds(std::max<int64_t>(expires_in - 60, expires_in / 2));
  return token_;
}

}  // namespace ngsi_bridge::replier
