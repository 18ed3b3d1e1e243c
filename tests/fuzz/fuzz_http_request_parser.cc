// libFuzzer target: the incremental HTTP/1.x request parser. Input: a byte
// choosing how the rest is split into reads, then the bytes of a connection
// (any number of pipelined requests). Each request is parsed twice, from all
// its bytes at once and from growing prefixes as reads would bring them; the
// two must agree, so no verdict depends on how TCP segmented the stream.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "common/http_request_parser.h"

namespace {

namespace nb = ngsi_bridge;
using Parser = nb::common::HttpRequestParser;

void Check(bool invariant) {
  if (!invariant) __builtin_trap();
}

bool IsKnownErrorStatus(int status) {
  return status == 400 || status == 413 || status == 431 || status == 501 ||
         status == 505;
}

// Parses `input` from prefixes growing by `stride` bytes until the parser
// answers other than kNeedMore or all of `input` has been offered.
Parser::Result ParseInPieces(Parser& parser, absl::string_view input,
                             size_t stride) {
  for (size_t length = std::min(stride, input.size());;
       length = std::min(length + stride, input.size())) {
    const Parser::Result result = parser.Parse(input.substr(0, length));
    if (result != Parser::Result::kNeedMore || length == input.size()) {
      return result;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // Strides 1..64 cover byte-at-a-time reads and splits inside every token.
  const size_t stride = data[0] % 64 + 1;
  const absl::string_view stream(reinterpret_cast<const char*>(data + 1),
                                 size - 1);
  nb::common::HttpParseLimits limits;
  limits.max_header_bytes = 4096;
  limits.max_body_bytes = 65536;
  Parser whole(limits);
  Parser pieces(limits);
  size_t offset = 0;
  while (offset < stream.size()) {
    const absl::string_view input = stream.substr(offset);
    whole.Reset();
    pieces.Reset();
    const Parser::Result result = whole.Parse(input);
    Check(ParseInPieces(pieces, input, stride) == result);
    if (result == Parser::Result::kNeedMore) break;
    if (result == Parser::Result::kError) {
      Check(IsKnownErrorStatus(whole.error_status()));
      Check(pieces.error_status() == whole.error_status());
      Check(!whole.error().empty());
      break;
    }
    Check(whole.consumed() > 0 && whole.consumed() <= input.size());
    Check(pieces.consumed() == whole.consumed());
    Check(whole.headers_complete());
    const nb::common::HttpRequest& a = whole.request();
    const nb::common::HttpRequest& b = pieces.request();
    Check(a.method == b.method && a.target == b.target &&
          a.minor_version == b.minor_version && a.headers == b.headers &&
          a.body == b.body && a.keep_alive == b.keep_alive);
    Check(whole.expects_continue() == pieces.expects_continue());
    Check(!a.method.empty() && !a.target.empty());
    Check(a.body.size() <= limits.max_body_bytes);
    // A finished parser keeps its answer.
    Check(whole.Parse(input) == Parser::Result::kDone &&
          whole.consumed() == pieces.consumed());
    offset += whole.consumed();
  }
  return 0;
}
