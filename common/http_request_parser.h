#pragma once

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"
#include "common/http_message.h"

namespace ngsi_bridge::common {

struct HttpParseLimits {
  // Request line and headers, and any empty lines sent before them.
  size_t max_header_bytes = size_t{64} << 10;
  size_t max_body_bytes = size_t{8} << 20;
};

// Reads HTTP/1.0 and HTTP/1.1 requests (RFC 9112) from a connection's
// buffered bytes, one at a time: the request line and headers are parsed
// once, then the body (Content-Length or chunked) as it arrives, so a large
// body costs no re-parse per read. Strict where leniency lets two parsers
// disagree about where a request ends (request smuggling): Content-Length
// together with Transfer-Encoding, differing Content-Lengths, folded header
// lines, a space before a header's colon, a bare CR in a header value and
// any transfer coding but "chunked" are errors. Lines may end in CRLF or a bare LF. One parser per
// connection; not thread-safe.
class HttpRequestParser {
 public:
  enum class Result {
    kNeedMore,  // `input` holds no complete request yet
    kDone,      // request() is complete; consumed() bytes of input
    kError,     // error_status() and error(); answer and close
  };

  explicit HttpRequestParser(const HttpParseLimits& limits)
      : limits_(limits) {}

  // Examines `input`: the connection's bytes from the start of the current
  // request, the same bytes plus more on each call until kDone or kError.
  // Errors: 400 malformed, 413 body over max_body_bytes (known from the
  // headers, before the body is read), 431 headers over max_header_bytes,
  // 501 a transfer coding other than chunked, 505 not HTTP/1.x.
  Result Parse(absl::string_view input);

  // Valid once Parse() returned kDone (the body) or headers_complete().
  HttpRequest& request() { return request_; }
  size_t consumed() const { return consumed_; }
  // The headers are parsed and the body is still to come.
  bool headers_complete() const { return state_ != State::kHeaders; }
  // The client sent "Expect: 100-continue" and waits for an interim answer
  // before it sends the body.
  bool expects_continue() const { return expects_continue_; }
  int error_status() const { return error_status_; }
  const std::string& error() const { return error_; }

  // Readies the parser for the next request on the same connection.
  void Reset();

 private:
  enum class State { kHeaders, kFixedBody, kChunkedBody, kDone, kError };

  Result ParseHead(absl::string_view head);
  Result ParseChunks(absl::string_view input);
  Result Fail(int status, std::string error);

  const HttpParseLimits limits_;
  State state_ = State::kHeaders;
  HttpRequest request_;
  size_t scanned_ = 0;      // bytes searched for the end of the headers
  size_t body_start_ = 0;   // offset of the body in input
  size_t body_length_ = 0;  // Content-Length
  size_t chunk_pos_ = 0;    // offset of the next chunk-size line
  size_t consumed_ = 0;
  bool expects_continue_ = false;
  int error_status_ = 0;
  std::string error_;
};

}  // namespace ngsi_bridge::common
