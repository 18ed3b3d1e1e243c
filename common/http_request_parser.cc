#include "common/http_request_parser.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace ngsi_bridge::common {
namespace {

// RFC 9110 tchar: what a method and a header name may be made of.
bool IsTokenChar(char c) {
  if (absl::ascii_isalnum(static_cast<unsigned char>(c))) return true;
  return absl::string_view("!#$%&'*+-.^_`|~").find(c) !=
         absl::string_view::npos;
}

bool IsToken(absl::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

// Where the header section ends (just past its empty line) in `input`,
// searching from `from`; npos while it has not arrived. A bare LF ends a
// line as CRLF does.
size_t HeadEnd(absl::string_view input, size_t from) {
  for (size_t i = input.find('\n', from); i != absl::string_view::npos;
       i = input.find('\n', i + 1)) {
    if (i + 1 < input.size() && input[i + 1] == '\n') return i + 2;
    if (i + 2 < input.size() && input[i + 1] == '\r' && input[i + 2] == '\n') {
      return i + 3;
    }
  }
  return absl::string_view::npos;
}

absl::string_view StripCr(absl::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// Whether a comma-separated header value lists `token` (case-insensitive).
bool ListsToken(absl::string_view value, absl::string_view token) {
  for (absl::string_view item : absl::StrSplit(value, ',')) {
    if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(item), token)) {
      return true;
    }
  }
  return false;
}

}  // namespace

void HttpRequestParser::Reset() {
  state_ = State::kHeaders;
  request_ = HttpRequest();
  scanned_ = 0;
  body_start_ = 0;
  body_length_ = 0;
  chunk_pos_ = 0;
  consumed_ = 0;
  expects_continue_ = false;
  error_status_ = 0;
  error_.clear();
}

HttpRequestParser::Result HttpRequestParser::Fail(int status,
                                                  std::string error) {
  state_ = State::kError;
  error_status_ = status;
  error_ = std::move(error);
  return Result::kError;
}

HttpRequestParser::Result HttpRequestParser::Parse(absl::string_view input) {
  if (state_ == State::kHeaders) {
    // Clients may send empty lines between requests (RFC 9112 2.2).
    size_t start = 0;
    while (start < input.size() &&
           (input[start] == '\r' || input[start] == '\n')) {
      ++start;
    }
    // Resume the search a few bytes back: the empty line may straddle reads.
    const size_t from = std::max(start, scanned_ > 3 ? scanned_ - 3 : 0);
    const size_t end = HeadEnd(input, from);
    // The empty lines count against the limit too: else a client could make
    // us buffer (and skip on every call) them without end.
    if (end == absl::string_view::npos) {
      scanned_ = input.size();
      if (input.size() > limits_.max_header_bytes) {
        return Fail(431, absl::StrCat("request headers larger than ",
                                      limits_.max_header_bytes, " bytes"));
      }
      return Result::kNeedMore;
    }
    if (end > limits_.max_header_bytes) {
      return Fail(431, absl::StrCat("request headers larger than ",
                                    limits_.max_header_bytes, " bytes"));
    }
    body_start_ = end;
    chunk_pos_ = end;
    const Result head = ParseHead(input.substr(start, end - start));
    if (head != Result::kNeedMore) return head;
  }
  switch (state_) {
    case State::kFixedBody:
      if (input.size() - body_start_ < body_length_) return Result::kNeedMore;
      request_.body.assign(input.data() + body_start_, body_length_);
      consumed_ = body_start_ + body_length_;
      state_ = State::kDone;
      return Result::kDone;
    case State::kChunkedBody:
      return ParseChunks(input);
    case State::kDone:
      return Result::kDone;
    case State::kError:
      return Result::kError;
    case State::kHeaders:
      break;
  }
  return Result::kNeedMore;
}

HttpRequestParser::Result HttpRequestParser::ParseHead(
    absl::string_view head) {
  std::vector<absl::string_view> lines = absl::StrSplit(head, '\n');
  // The split leaves the two pieces of the final empty line.
  while (!lines.empty() && StripCr(lines.back()).empty()) lines.pop_back();
  if (lines.empty()) return Fail(400, "empty request");

  const std::vector<absl::string_view> parts =
      absl::StrSplit(StripCr(lines[0]), ' ');
  if (parts.size() != 3 || !IsToken(parts[0]) || parts[1].empty()) {
    return Fail(400, "malformed request line");
  }
  if (parts[2] == "HTTP/1.1") {
    request_.minor_version = 1;
  } else if (parts[2] == "HTTP/1.0") {
    request_.minor_version = 0;
  } else if (absl::StartsWith(parts[2], "HTTP/")) {
    return Fail(505, absl::StrCat("HTTP version ", parts[2],
                                  " not supported; use HTTP/1.1"));
  } else {
    return Fail(400, "malformed request line");
  }
  request_.method = std::string(parts[0]);
  request_.target = std::string(parts[1]);

  bool has_length = false;
  bool chunked = false;
  bool connection_close = false;
  bool connection_keep_alive = false;
  request_.headers.reserve(lines.size() - 1);
  for (size_t i = 1; i < lines.size(); ++i) {
    const absl::string_view line = StripCr(lines[i]);
    if (line.empty() || line[0] == ' ' || line[0] == '\t') {
      return Fail(400, "folded or empty header line");
    }
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos || !IsToken(line.substr(0, colon))) {
      return Fail(400, absl::StrCat("malformed header line \"",
                                    line.substr(0, 64), "\""));
    }
    const absl::string_view name = line.substr(0, colon);
    const absl::string_view value =
        absl::StripAsciiWhitespace(line.substr(colon + 1));
    // Some parsers end a line at a bare CR: two readings of one request.
    if (value.find('\r') != absl::string_view::npos) {
      return Fail(400, "bare CR in a header value");
    }
    if (absl::EqualsIgnoreCase(name, "Content-Length")) {
      size_t length = 0;
      if (value.empty() || value.size() > 18 ||
          value.find_first_not_of("0123456789") != absl::string_view::npos ||
          !absl::SimpleAtoi(value, &length)) {
        return Fail(400, absl::StrCat("bad Content-Length \"",
                                      value.substr(0, 32), "\""));
      }
      if (has_length && length != body_length_) {
        return Fail(400, "differing Content-Length headers");
      }
      has_length = true;
      body_length_ = length;
    } else if (absl::EqualsIgnoreCase(name, "Transfer-Encoding")) {
      if (!absl::EqualsIgnoreCase(value, "chunked") || chunked) {
        return Fail(501, absl::StrCat("transfer coding \"",
                                      value.substr(0, 32),
                                      "\" not supported; use chunked"));
      }
      chunked = true;
    } else if (absl::EqualsIgnoreCase(name, "Connection")) {
      connection_close |= ListsToken(value, "close");
      connection_keep_alive |= ListsToken(value, "keep-alive");
    } else if (absl::EqualsIgnoreCase(name, "Expect")) {
      expects_continue_ = absl::EqualsIgnoreCase(value, "100-continue") &&
                          request_.minor_version == 1;
    }
    request_.headers.emplace_back(std::string(name), std::string(value));
  }
  if (has_length && chunked) {
    return Fail(400, "both Content-Length and Transfer-Encoding");
  }
  request_.keep_alive = request_.minor_version == 1 ? !connection_close
                                                    : connection_keep_alive &&
                                                          !connection_close;
  if (chunked) {
    state_ = State::kChunkedBody;
    return Result::kNeedMore;
  }
  if (body_length_ > limits_.max_body_bytes) {
    return Fail(413, absl::StrCat("body of ", body_length_,
                                  " bytes larger than the limit of ",
                                  limits_.max_body_bytes, " bytes"));
  }
  state_ = State::kFixedBody;
  return Result::kNeedMore;
}

HttpRequestParser::Result HttpRequestParser::ParseChunks(
    absl::string_view input) {
  for (;;) {
    const size_t line_end = input.find('\n', chunk_pos_);
    // Limits are checked alike whether or not the line's end has arrived, so
    // the verdict does not depend on how the bytes were split into reads.
    const size_t line_length =
        (line_end == absl::string_view::npos ? input.size() : line_end) -
        chunk_pos_;
    if (line_length > 1024) return Fail(400, "chunk size line too long");
    if (line_end == absl::string_view::npos) return Result::kNeedMore;
    absl::string_view size_text =
        StripCr(input.substr(chunk_pos_, line_end - chunk_pos_));
    size_text = size_text.substr(0, size_text.find(';'));  // extensions
    size_text = absl::StripAsciiWhitespace(size_text);
    size_t size = 0;
    if (size_text.empty() || size_text.size() > 15 ||
        size_text.find_first_not_of("0123456789abcdefABCDEF") !=
            absl::string_view::npos ||
        !absl::SimpleHexAtoi(size_text, &size)) {
      return Fail(400, "malformed chunk size");
    }
    if (size == 0) {
      // Trailer fields (ignored) up to an empty line; the whole section,
      // not each line, is held to max_header_bytes.
      const size_t trailer_start = line_end + 1;
      size_t pos = trailer_start;
      for (;;) {
        const size_t end = input.find('\n', pos);
        const size_t trailer_bytes =
            (end == absl::string_view::npos ? input.size() : end + 1) -
            trailer_start;
        if (trailer_bytes > limits_.max_header_bytes) {
          return Fail(431, "chunked trailer too large");
        }
        if (end == absl::string_view::npos) return Result::kNeedMore;
        if (StripCr(input.substr(pos, end - pos)).empty()) {
          consumed_ = end + 1;
          state_ = State::kDone;
          return Result::kDone;
        }
        pos = end + 1;
      }
    }
    if (request_.body.size() + size > limits_.max_body_bytes) {
      return Fail(413, absl::StrCat("chunked body larger than the limit of ",
                                    limits_.max_body_bytes, " bytes"));
    }
    const size_t data = line_end + 1;
    // The chunk's data and its CRLF (or LF).
    if (input.size() < data + size + 1) return Result::kNeedMore;
    size_t next = data + size;
    if (input[next] == '\r') {
      if (input.size() < next + 2) return Result::kNeedMore;
      ++next;
    }
    if (input[next] != '\n') return Fail(400, "chunk data not followed by CRLF");
    request_.body.append(input.data() + data, size);
    chunk_pos_ = next + 1;
  }
}

}  // namespace ngsi_bridge::common
