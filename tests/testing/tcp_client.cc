#include "tests/testing/tcp_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace ngsi_bridge::testing {

int ConnectFrom(int port, const char* source) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  timeval timeout{20, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in local{};
  local.sin_family = AF_INET;
  inet_pton(AF_INET, source, &local.sin_addr);
  sockaddr_in remote{};
  remote.sin_family = AF_INET;
  remote.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof(remote)) !=
          0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool WaitFor(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return true;
}

std::optional<std::string> HttpReply::Header(absl::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) return value;
  }
  return std::nullopt;
}

ssize_t HttpReplyReader::Fill() {
  char chunk[65536];
  for (;;) {
    const ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n > 0) buffer_.append(chunk, static_cast<size_t>(n));
    return n;
  }
}

absl::StatusOr<HttpReply> HttpReplyReader::Next(bool head_request) {
  auto ended = [this](absl::string_view waiting_for) {
    const int error = errno;
    return absl::UnavailableError(absl::StrCat(
        "connection ended (", error == 0 ? "closed" : std::strerror(error),
        ") while waiting for ", waiting_for, " after \"",
        absl::CEscape(buffer_.substr(0, 256)), "\""));
  };
  size_t head_end = buffer_.find("\r\n\r\n");
  while (head_end == std::string::npos) {
    errno = 0;
    if (Fill() <= 0) return ended("an answer's head");
    head_end = buffer_.find("\r\n\r\n");
  }
  HttpReply reply;
  reply.head = buffer_.substr(0, head_end + 2);
  std::vector<absl::string_view> lines =
      absl::StrSplit(absl::string_view(reply.head), "\r\n");
  lines.pop_back();  // the split's empty piece after the final CRLF
  const std::vector<absl::string_view> status_line =
      absl::StrSplit(lines[0], absl::MaxSplits(' ', 2));
  if (status_line.size() < 2 || !absl::StartsWith(status_line[0], "HTTP/1.") ||
      !absl::SimpleAtoi(status_line[1], &reply.status)) {
    return absl::DataLossError(absl::StrCat(
        "malformed status line \"", absl::CEscape(lines[0]), "\""));
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    if (colon == absl::string_view::npos) {
      return absl::DataLossError(absl::StrCat(
          "malformed header line \"", absl::CEscape(lines[i]), "\""));
    }
    reply.headers.emplace_back(
        std::string(lines[i].substr(0, colon)),
        std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1))));
  }
  buffer_.erase(0, head_end + 4);

  const bool no_body = head_request || reply.status / 100 == 1 ||
                       reply.status == 204 || reply.status == 304;
  if (no_body) return reply;
  const std::optional<std::string> length_text = reply.Header("Content-Length");
  if (!length_text.has_value()) {
    errno = 0;
    while (Fill() > 0) {
    }
    if (errno != 0) return ended("the close ending a body");
    reply.body = std::move(buffer_);
    buffer_.clear();
    return reply;
  }
  size_t length = 0;
  if (!absl::SimpleAtoi(*length_text, &length)) {
    return absl::DataLossError(
        absl::StrCat("bad Content-Length \"", *length_text, "\""));
  }
  while (buffer_.size() < length) {
    errno = 0;
    if (Fill() <= 0) return ended(absl::StrCat(length, " bytes of body"));
  }
  reply.body = buffer_.substr(0, length);
  buffer_.erase(0, length);
  return reply;
}

absl::Status HttpReplyReader::WaitForClose() {
  if (buffer_.empty()) {
    errno = 0;
    const ssize_t n = Fill();
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
      return absl::OkStatus();
    }
    if (n < 0) {
      return absl::DeadlineExceededError(
          "connection still open after the receive timeout");
    }
  }
  return absl::FailedPreconditionError(
      absl::StrCat("received \"", absl::CEscape(buffer_.substr(0, 256)),
                   "\" instead of the close"));
}

}  // namespace ngsi_bridge::testing
