#include "receiver-service/broker_client.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "httplib.h"

namespace ngsi_bridge::receiver {
namespace {

std::chrono::microseconds ToChrono(absl::Duration duration) {
  return std::chrono::microseconds(
      std::max<int64_t>(1000, absl::ToInt64Microseconds(duration)));
}

}  // namespace

std::string BrokerResponse::Header(absl::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) return value;
  }
  return "";
}

std::string UrlEncode(absl::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(byte) || c == '-' || c == '_' || c == '.' ||
        c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xF]);
    }
  }
  return out;
}

bool IsIdempotentMethod(absl::string_view method) {
  for (absl::string_view idempotent :
       {"GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
    if (absl::EqualsIgnoreCase(method, idempotent)) return true;
  }
  return false;
}

absl::StatusOr<BrokerResponse> HttpBrokerTransport::Send(
    absl::string_view base_url, const BrokerRequest& request) {
  const bool idempotent = IsIdempotentMethod(request.method);
  const int attempts = std::max(1, retry_.max_attempts);
  absl::Duration backoff = retry_.initial_backoff;
  for (int attempt = 1;; ++attempt) {
    bool sent = false;
    absl::StatusOr<BrokerResponse> response =
        SendOnce(base_url, request, &sent);
    const bool retriable =
        response.ok() ? idempotent && response->status >= 500 &&
                            response->status <= 599
                      : absl::IsUnavailable(response.status()) &&
                            (idempotent || !sent);
    if (!retriable || attempt >= attempts) return response;
    // Full jitter: callers that failed together do not retry together.
    thread_local std::mt19937_64 random(std::random_device{}());
    const int64_t cap_us =
        absl::ToInt64Microseconds(std::min(backoff, retry_.max_backoff));
    const absl::Duration wait = absl::Microseconds(
        std::uniform_int_distribution<int64_t>(0, std::max<int64_t>(0, cap_us))(
            random));
    if (retry_.sleep) {
      retry_.sleep(wait);
    } else {
      absl::SleepFor(wait);
    }
    backoff = std::min(backoff * 2, retry_.max_backoff);
  }
}

absl::StatusOr<BrokerResponse> HttpBrokerTransport::SendOnce(
    absl::string_view base_url, const BrokerRequest& request,
    bool* sent) const {
  *sent = true;
  // "http://host:port/prefix": httplib connects to the origin, every call
  // goes under the prefix.
  const size_t scheme_end = base_url.find("://");
  if (scheme_end == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("broker url has no scheme: '", base_url, "'"));
  }
  const size_t path_start = base_url.find('/', scheme_end + 3);
  const std::string origin(base_url.substr(0, path_start));
  const std::string prefix(path_start == absl::string_view::npos
                               ? absl::string_view()
                               : base_url.substr(path_start));
  httplib::Client client(origin);
  client.set_connection_timeout(ToChrono(timeout_));
  client.set_read_timeout(ToChrono(timeout_));
  client.set_write_timeout(ToChrono(timeout_));

  httplib::Request call;
  call.method = request.method;
  call.path = prefix + request.path;
  if (!request.query.empty()) call.path += "?" + request.query;
  for (const auto& [name, value] : request.headers) {
    call.headers.emplace(name, value);
  }
  if (!request.content_type.empty()) {
    call.headers.emplace("Content-Type", request.content_type);
    call.body = request.body;
  }
  call.headers.emplace("Accept", "application/json");
  httplib::Result result = client.send(call);
  // The connection was never made, so the request was not sent.
  if (!result && (result.error() == httplib::Error::Connection ||
                  result.error() == httplib::Error::ConnectionTimeout ||
                  result.error() == httplib::Error::SSLConnection)) {
    *sent = false;
  }
  if (!result) {
    return absl::UnavailableError(
        absl::StrCat(request.method, " ", origin, call.path,
                     " failed: ", httplib::to_string(result.error())));
  }
  BrokerResponse response;
  response.status = result->status;
  for (const auto& [name, value] : result->headers) {
    response.headers.emplace_back(name, value);
  }
  response.body = std::move(result->body);
  return response;
}

}  // namespace ngsi_bridge::receiver
