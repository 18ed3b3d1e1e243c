#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace ngsi_bridge::testing {

// A TCP connection from `source` (any 127/8 address: all of it is loopback
// on Linux, so tests can play several clients) to 127.0.0.1:`port`, with a
// 20 s receive timeout so that a hang fails a test instead of blocking it.
// The caller closes it. -1 when it cannot connect.
int ConnectFrom(int port, const char* source = "127.0.0.1");

// Writes all of `data` to `fd` (blocking; no SIGPIPE). False when the
// connection fails first.
bool SendAll(int fd, absl::string_view data);

// Polls `done` until it holds or `timeout` passes; whether it held. For
// state another thread reaches a moment after the client's call returned
// (a server counting an accepted connection): a condition wait, not a
// sleep before an assertion.
bool WaitFor(const std::function<bool()>& done,
             absl::Duration timeout = absl::Seconds(20));

// One HTTP/1.x answer as read off a connection.
struct HttpReply {
  int status = 0;
  std::string head;  // status line and header lines, CRLFs included
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first header called `name` (any case); nullopt when absent.
  std::optional<std::string> Header(absl::string_view name) const;
};

// Reads HTTP answers off a blocking socket it does not own, keeping bytes
// that arrive beyond one answer for the next (pipelined answers). Not
// thread-safe.
class HttpReplyReader {
 public:
  explicit HttpReplyReader(int fd) : fd_(fd) {}

  // The next answer, an interim 1xx one on its own. Its body is
  // Content-Length bytes; none for 1xx, 204, 304 or when `head_request`;
  // without Content-Length, what arrives until the close. kUnavailable when
  // the connection closes, fails or times out (the socket's receive timeout)
  // before a whole answer, kDataLoss when the answer is malformed. Blocks.
  absl::StatusOr<HttpReply> Next(bool head_request = false);

  // OK when the peer closes the connection (recv() returns 0 or a reset)
  // before sending anything more; kFailedPrecondition when bytes arrive
  // instead, kDeadlineExceeded when the receive timeout passes. Blocks.
  absl::Status WaitForClose();

 private:
  // One recv() appended to buffer_: its result (0 closed, -1 errno set).
  ssize_t Fill();

  const int fd_;
  std::string buffer_;  // received, not yet returned
};

}  // namespace ngsi_bridge::testing
