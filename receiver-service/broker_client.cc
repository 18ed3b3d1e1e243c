#include "receiver-service/broker_client.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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

absl::StatusOr<BrokerResponse> HttpBrokerTransport::Send(
    absl::string_view base_url, const BrokerRequest& request) {
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
