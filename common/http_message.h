#pragma once

#include <string>
#include <utility>
#include <vector>

namespace ngsi_bridge::common {

// One HTTP/1.x request as read off a connection (HttpRequestParser).
struct HttpRequest {
  std::string method;  // as sent, e.g. "POST"
  std::string target;  // as sent: path and query, not decoded
  int minor_version = 1;  // HTTP/1.<minor_version>
  // Headers in the order sent; names as sent (match case-insensitively).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // chunked bodies arrive decoded
  // Whether the connection stays open after the answer: HTTP/1.1 unless
  // "Connection: close", HTTP/1.0 only with "Connection: keep-alive".
  bool keep_alive = true;
  std::string remote_addr;  // filled by the server, not the parser
};

// An answer to one request. The server adds Content-Length (except on a
// 204) and Connection; `content_type` is sent only with a body.
struct HttpResponse {
  int status = 204;
  std::string content_type;  // "" for no body
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

}  // namespace ngsi_bridge::common
