#include "common/http_request_parser.h"

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace ngsi_bridge::common {
namespace {

using Result = HttpRequestParser::Result;
using Headers = std::vector<std::pair<std::string, std::string>>;

HttpParseLimits Limits(size_t max_header_bytes, size_t max_body_bytes) {
  HttpParseLimits limits;
  limits.max_header_bytes = max_header_bytes;
  limits.max_body_bytes = max_body_bytes;
  return limits;
}

// Feeds `input` as a connection would if every read brought one more byte:
// each call gets the bytes so far. Expects kNeedMore for every proper prefix
// and returns the result for the whole input.
Result FeedOneByteAtATime(HttpRequestParser& parser, absl::string_view input) {
  for (size_t length = 1; length < input.size(); ++length) {
    const Result result = parser.Parse(input.substr(0, length));
    EXPECT_EQ(result, Result::kNeedMore) << "after " << length << " bytes";
    if (result != Result::kNeedMore) return result;
  }
  return parser.Parse(input);
}

// Parses `input` in one call and returns the error status (0 if none).
int ErrorStatusOf(absl::string_view input,
                  const HttpParseLimits& limits = HttpParseLimits()) {
  HttpRequestParser parser(limits);
  if (parser.Parse(input) != Result::kError) return 0;
  return parser.error_status();
}

constexpr absl::string_view kPost =
    "POST /v2/notify?subscriptionId=a%20b&x=1 HTTP/1.1\r\n"
    "Host: bridge:8080\r\n"
    "Content-Type: application/json\r\n"
    "X-Multi:  spaced value \r\n"
    "Content-Length: 13\r\n"
    "\r\n"
    "{\"data\":[42]}";

constexpr absl::string_view kChunkedPost =
    "POST /v2/notify HTTP/1.1\r\n"
    "Host: bridge\r\n"
    "Transfer-Encoding: chunked\r\n"
    "\r\n"
    "5\r\n"
    "hello\r\n"
    "7\r\n"
    ", world\r\n"
    "0\r\n"
    "\r\n";

TEST(HttpRequestParserTest, ParsesCompletePostWithContentLength) {
  HttpRequestParser parser(HttpParseLimits{});
  ASSERT_EQ(parser.Parse(kPost), Result::kDone);
  const HttpRequest& request = parser.request();
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/v2/notify?subscriptionId=a%20b&x=1");
  EXPECT_EQ(request.minor_version, 1);
  EXPECT_EQ(request.headers, (Headers{{"Host", "bridge:8080"},
                                      {"Content-Type", "application/json"},
                                      {"X-Multi", "spaced value"},
                                      {"Content-Length", "13"}}));
  EXPECT_EQ(request.body, "{\"data\":[42]}");
  EXPECT_TRUE(request.keep_alive);
  EXPECT_EQ(parser.consumed(), kPost.size());
  EXPECT_FALSE(parser.expects_continue());
}

TEST(HttpRequestParserTest, ContentLengthBodyFedOneByteAtATimeGivesSameResult) {
  HttpRequestParser whole(HttpParseLimits{});
  ASSERT_EQ(whole.Parse(kPost), Result::kDone);

  HttpRequestParser parser(HttpParseLimits{});
  ASSERT_EQ(FeedOneByteAtATime(parser, kPost), Result::kDone);
  EXPECT_EQ(parser.request().method, whole.request().method);
  EXPECT_EQ(parser.request().target, whole.request().target);
  EXPECT_EQ(parser.request().headers, whole.request().headers);
  EXPECT_EQ(parser.request().body, "{\"data\":[42]}");
  EXPECT_EQ(parser.consumed(), kPost.size());
}

TEST(HttpRequestParserTest, ChunkedBodyFedOneByteAtATimeGivesSameResult) {
  HttpRequestParser whole(HttpParseLimits{});
  ASSERT_EQ(whole.Parse(kChunkedPost), Result::kDone);
  EXPECT_EQ(whole.request().body, "hello, world");

  HttpRequestParser parser(HttpParseLimits{});
  ASSERT_EQ(FeedOneByteAtATime(parser, kChunkedPost), Result::kDone);
  EXPECT_EQ(parser.request().method, whole.request().method);
  EXPECT_EQ(parser.request().target, whole.request().target);
  EXPECT_EQ(parser.request().headers, whole.request().headers);
  EXPECT_EQ(parser.request().body, "hello, world");
  EXPECT_EQ(parser.consumed(), kChunkedPost.size());
}

TEST(HttpRequestParserTest, ParsesTwoPipelinedRequestsAfterReset) {
  const std::string input =
      absl::StrCat("POST /first HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
                   "GET /second?q=1 HTTP/1.1\r\nHost: h\r\n\r\n");
  HttpRequestParser parser(HttpParseLimits{});
  ASSERT_EQ(parser.Parse(input), Result::kDone);
  EXPECT_EQ(parser.request().target, "/first");
  EXPECT_EQ(parser.request().body, "abc");
  const size_t first = parser.consumed();
  ASSERT_LT(first, input.size());

  parser.Reset();
  const absl::string_view rest = absl::string_view(input).substr(first);
  ASSERT_EQ(parser.Parse(rest), Result::kDone);
  EXPECT_EQ(parser.request().method, "GET");
  EXPECT_EQ(parser.request().target, "/second?q=1");
  EXPECT_EQ(parser.request().headers, (Headers{{"Host", "h"}}));
  EXPECT_EQ(parser.request().body, "");
  EXPECT_EQ(parser.consumed(), rest.size());
}

TEST(HttpRequestParserTest, DecodesChunksIgnoringExtensionsAndTrailers) {
  const std::string input =
      "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4;name=value\r\nWiki\r\n"
      "A;a=1;b=\"q\"\r\n0123456789\r\n"
      "0;last\r\n"
      "Expires: never\r\n"
      "X-Checksum: 1234\r\n"
      "\r\n"
      "NEXT";  // the start of a pipelined request
  HttpRequestParser parser(HttpParseLimits{});
  ASSERT_EQ(parser.Parse(input), Result::kDone);
  EXPECT_EQ(parser.request().body, "Wiki0123456789");
  EXPECT_EQ(parser.consumed(), input.size() - 4);
  // Trailers are not headers.
  EXPECT_EQ(parser.request().headers,
            (Headers{{"Transfer-Encoding", "chunked"}}));
}

TEST(HttpRequestParserTest, AcceptsBareLfLineEndings) {
  const std::string input =
      "POST /lf HTTP/1.1\nHost: h\nTransfer-Encoding: chunked\n\n"
      "3\nabc\n2\r\nde\r\n0\nTrailer: t\n\n";
  HttpRequestParser parser(HttpParseLimits{});
  ASSERT_EQ(parser.Parse(input), Result::kDone);
  EXPECT_EQ(parser.request().target, "/lf");
  EXPECT_EQ(parser.request().headers,
            (Headers{{"Host", "h"}, {"Transfer-Encoding", "chunked"}}));
  EXPECT_EQ(parser.request().body, "abcde");
  EXPECT_EQ(parser.consumed(), input.size());
}

TEST(HttpRequestParserTest, SkipsEmptyLinesBeforeTheRequestLine) {
  const std::string input = "\r\n\n\r\nGET /after HTTP/1.1\r\n\r\n";
  HttpRequestParser parser(HttpParseLimits{});
  ASSERT_EQ(parser.Parse(input), Result::kDone);
  EXPECT_EQ(parser.request().method, "GET");
  EXPECT_EQ(parser.request().target, "/after");
  EXPECT_EQ(parser.consumed(), input.size());
}

TEST(HttpRequestParserTest, Http10ClosesUnlessClientAsksForKeepAlive) {
  HttpRequestParser plain(HttpParseLimits{});
  ASSERT_EQ(plain.Parse("GET / HTTP/1.0\r\n\r\n"), Result::kDone);
  EXPECT_EQ(plain.request().minor_version, 0);
  EXPECT_FALSE(plain.request().keep_alive);

  HttpRequestParser keep(HttpParseLimits{});
  ASSERT_EQ(keep.Parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"),
            Result::kDone);
  EXPECT_TRUE(keep.request().keep_alive);
}

TEST(HttpRequestParserTest, Http11KeepsAliveUnlessClientSendsClose) {
  HttpRequestParser plain(HttpParseLimits{});
  ASSERT_EQ(plain.Parse("GET / HTTP/1.1\r\n\r\n"), Result::kDone);
  EXPECT_EQ(plain.request().minor_version, 1);
  EXPECT_TRUE(plain.request().keep_alive);

  HttpRequestParser close(HttpParseLimits{});
  ASSERT_EQ(close.Parse("GET / HTTP/1.1\r\nConnection: TE, close\r\n\r\n"),
            Result::kDone);
  EXPECT_FALSE(close.request().keep_alive);
}

TEST(HttpRequestParserTest, ExpectContinueIsKnownBeforeTheBodyArrives) {
  const std::string head =
      "POST /big HTTP/1.1\r\nExpect: 100-continue\r\n"
      "Content-Length: 5\r\n\r\n";
  HttpRequestParser parser(HttpParseLimits{});
  EXPECT_EQ(parser.Parse(head.substr(0, head.size() - 1)), Result::kNeedMore);
  EXPECT_FALSE(parser.headers_complete());

  ASSERT_EQ(parser.Parse(head), Result::kNeedMore);
  EXPECT_TRUE(parser.headers_complete());
  EXPECT_TRUE(parser.expects_continue());
  EXPECT_EQ(parser.request().target, "/big");

  ASSERT_EQ(parser.Parse(head + "hello"), Result::kDone);
  EXPECT_EQ(parser.request().body, "hello");
}

TEST(HttpRequestParserTest, GetWithoutBodyCompletesWithEmptyBody) {
  const absl::string_view input = "GET /health HTTP/1.1\r\nHost: h\r\n\r\n";
  HttpRequestParser parser(HttpParseLimits{});
  ASSERT_EQ(parser.Parse(input), Result::kDone);
  EXPECT_EQ(parser.request().method, "GET");
  EXPECT_EQ(parser.request().body, "");
  EXPECT_EQ(parser.consumed(), input.size());
}

TEST(HttpRequestParserTest, RejectsContentLengthWithTransferEncodingAs400) {
  EXPECT_EQ(ErrorStatusOf("POST / HTTP/1.1\r\nContent-Length: 5\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n"),
            400);
  EXPECT_EQ(ErrorStatusOf("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                          "Content-Length: 5\r\n\r\n"),
            400);
}

TEST(HttpRequestParserTest, RejectsDifferingContentLengthsAs400) {
  EXPECT_EQ(ErrorStatusOf("POST / HTTP/1.1\r\nContent-Length: 5\r\n"
                          "Content-Length: 6\r\n\r\nhello!"),
            400);
  // Repeating the same length is harmless.
  HttpRequestParser parser(HttpParseLimits{});
  EXPECT_EQ(parser.Parse("POST / HTTP/1.1\r\nContent-Length: 5\r\n"
                         "content-length: 5\r\n\r\nhello"),
            Result::kDone);
}

TEST(HttpRequestParserTest, RejectsNonNumericOrNegativeContentLengthAs400) {
  for (const char* value :
       {"abc", "-1", "+5", "5 5", "0x10", "1,1", "", "99999999999999999999"}) {
    SCOPED_TRACE(value);
    EXPECT_EQ(ErrorStatusOf(absl::StrCat(
                  "POST / HTTP/1.1\r\nContent-Length: ", value, "\r\n\r\n")),
              400);
  }
}

TEST(HttpRequestParserTest, RejectsFoldedHeaderLineAs400) {
  EXPECT_EQ(ErrorStatusOf("GET / HTTP/1.1\r\nX-Long: first\r\n"
                          " continued\r\n\r\n"),
            400);
  EXPECT_EQ(ErrorStatusOf("GET / HTTP/1.1\r\nX-Long: first\r\n"
                          "\tcontinued\r\n\r\n"),
            400);
}

TEST(HttpRequestParserTest, RejectsSpaceBeforeHeaderColonAs400) {
  EXPECT_EQ(ErrorStatusOf("POST / HTTP/1.1\r\nContent-Length : 5\r\n\r\n"
                          "hello"),
            400);
}

TEST(HttpRequestParserTest, RejectsBareCrInHeaderValueAs400) {
  EXPECT_EQ(ErrorStatusOf("POST / HTTP/1.1\r\nX-A: a\rContent-Length: 5\r\n"
                          "\r\nhello"),
            400);
}

TEST(HttpRequestParserTest, RejectsMalformedRequestLineAs400) {
  for (const char* line :
       {"GET /", "GET  / HTTP/1.1", "GET / HTTP/1.1 extra", "G@T / HTTP/1.1",
        "GET / FTP/1.1", " GET / HTTP/1.1", "GET / http/1.1"}) {
    SCOPED_TRACE(line);
    EXPECT_EQ(ErrorStatusOf(absl::StrCat(line, "\r\n\r\n")), 400);
  }
}

TEST(HttpRequestParserTest, RejectsMalformedChunkSizeAs400) {
  for (const char* size : {"xyz", "-5", "0x5", "", "5 5", "1000000000000000"}) {
    SCOPED_TRACE(size);
    EXPECT_EQ(ErrorStatusOf(absl::StrCat("POST / HTTP/1.1\r\n"
                                         "Transfer-Encoding: chunked\r\n\r\n",
                                         size, "\r\nhello\r\n0\r\n\r\n")),
              400);
  }
}

TEST(HttpRequestParserTest, RejectsChunkDataNotFollowedByCrlfAs400) {
  // The chunk says 3 bytes but 5 follow before the line end.
  EXPECT_EQ(ErrorStatusOf("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                          "\r\n3\r\nhello\r\n0\r\n\r\n"),
            400);
  // A CR must be followed by LF.
  EXPECT_EQ(ErrorStatusOf("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                          "\r\n5\r\nhello\rX0\r\n\r\n"),
            400);
}

TEST(HttpRequestParserTest, RejectsContentLengthOverLimitAs413BeforeTheBody) {
  HttpRequestParser parser(Limits(/*max_header_bytes=*/1024,
                                  /*max_body_bytes=*/10));
  // Only the headers have arrived.
  ASSERT_EQ(parser.Parse("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n"),
            Result::kError);
  EXPECT_EQ(parser.error_status(), 413);
  EXPECT_FALSE(parser.error().empty());

  HttpRequestParser at_limit(Limits(1024, 10));
  EXPECT_EQ(at_limit.Parse("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n"
                           "0123456789"),
            Result::kDone);
}

TEST(HttpRequestParserTest, RejectsChunkedBodyGrowingOverLimitAs413) {
  const std::string head =
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n";
  HttpRequestParser parser(Limits(/*max_header_bytes=*/1024,
                                  /*max_body_bytes=*/8));
  // The first chunk fits.
  ASSERT_EQ(parser.Parse(head), Result::kNeedMore);
  // The second is refused from its size line, before its data.
  ASSERT_EQ(parser.Parse(head + "4\r\n"), Result::kError);
  EXPECT_EQ(parser.error_status(), 413);
}

TEST(HttpRequestParserTest, RejectsHeadersOverLimitAs431WhileTheyNeverEnd) {
  HttpRequestParser parser(Limits(/*max_header_bytes=*/64,
                                  /*max_body_bytes=*/1024));
  std::string input = "GET / HTTP/1.1\r\nX-Pad: ";
  input.resize(64, 'a');
  EXPECT_EQ(parser.Parse(input), Result::kNeedMore);
  input += 'a';
  ASSERT_EQ(parser.Parse(input), Result::kError);
  EXPECT_EQ(parser.error_status(), 431);
}

TEST(HttpRequestParserTest, RejectsHeadersOverLimitAs431WhenTheyEnd) {
  // 62 bytes of line plus the final CRLFCRLF: 66 bytes of head.
  std::string head = "GET / HTTP/1.1\r\nX-Pad: ";
  head.resize(62, 'a');
  head += "\r\n\r\n";
  EXPECT_EQ(ErrorStatusOf(head, Limits(/*max_header_bytes=*/65, 1024)), 431);
  EXPECT_EQ(ErrorStatusOf(head, Limits(/*max_header_bytes=*/66, 1024)), 0);
}

TEST(HttpRequestParserTest, RejectsTransferCodingOtherThanChunkedAs501) {
  EXPECT_EQ(ErrorStatusOf("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n"
                          "\r\n"),
            501);
  EXPECT_EQ(ErrorStatusOf("POST / HTTP/1.1\r\n"
                          "Transfer-Encoding: gzip, chunked\r\n\r\n"),
            501);
}

TEST(HttpRequestParserTest, RejectsHttp2As505) {
  EXPECT_EQ(ErrorStatusOf("GET / HTTP/2.0\r\n\r\n"), 505);
}

// Regressions: limits that held only if the bytes arrived in some splits.

TEST(HttpRequestParserTest, CountsEmptyLinesBeforeRequestAgainstHeaderLimit) {
  // Otherwise a client could make the server buffer empty lines forever.
  std::string input(100, '\n');
  EXPECT_EQ(ErrorStatusOf(input, Limits(/*max_header_bytes=*/64, 1024)), 431);
  input += "GET / HTTP/1.1\r\n\r\n";
  EXPECT_EQ(ErrorStatusOf(input, Limits(/*max_header_bytes=*/64, 1024)), 431);
}

TEST(HttpRequestParserTest, RejectsLongChunkSizeLineHoweverItArrives) {
  const std::string input = absl::StrCat(
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=",
      std::string(2000, 'x'), "\r\nhello\r\n0\r\n\r\n");
  EXPECT_EQ(ErrorStatusOf(input), 400);
  HttpRequestParser parser(HttpParseLimits{});
  Result result = Result::kNeedMore;
  for (size_t length = 1; length <= input.size(); ++length) {
    result = parser.Parse(absl::string_view(input).substr(0, length));
    if (result != Result::kNeedMore) break;
  }
  ASSERT_EQ(result, Result::kError);
  EXPECT_EQ(parser.error_status(), 400);
}

TEST(HttpRequestParserTest, BoundsTheWholeChunkedTrailerSectionAs431) {
  std::string input =
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
  for (int i = 0; i < 100; ++i) input += "X-T: v\r\n";  // 8 bytes a line
  const HttpParseLimits limits = Limits(/*max_header_bytes=*/256, 1024);
  // Still unterminated: the server must not keep buffering.
  EXPECT_EQ(ErrorStatusOf(input, limits), 431);
  input += "\r\n";
  EXPECT_EQ(ErrorStatusOf(input, limits), 431);
}

}  // namespace
}  // namespace ngsi_bridge::common
