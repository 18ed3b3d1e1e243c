// nb_loadgen: an epoll HTTP/1.1 load generator for the receiver benchmarks.
// N connections spread over T threads, each connection one request in flight,
// keep-alive or a new connection per request, optionally paced to a total
// rate. Every body carries a fresh send tag (bench_util.h) in place of the
// template's "@@NBTAG@@" so consumers can check delivery and measure
// end-to-end latency. Prints one JSON object on stdout. Traffic goes only to
// --host (127.0.0.1 by default); every loop is bounded by --duration_s,
// --max_requests and --timeout_ms.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "bench/bench_util.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(std::string, host, "127.0.0.1", "Target IPv4 address.");
ABSL_FLAG(int32_t, port, 0, "Target port.");
ABSL_FLAG(std::string, path, "/notify", "Request path (and query).");
ABSL_FLAG(std::string, method, "POST", "Request method.");
ABSL_FLAG(int32_t, connections, 16, "Concurrent senders (connections).");
ABSL_FLAG(int32_t, threads, 2, "Event-loop threads.");
ABSL_FLAG(double, duration_s, 3, "Sending time in seconds.");
ABSL_FLAG(int64_t, max_requests, 0, "Stop after this many requests; 0 = none.");
ABSL_FLAG(double, rate, 0, "Total requests/s to pace to; 0 = as fast as possible.");
ABSL_FLAG(bool, keep_alive, true,
          "Reuse connections; false sends Connection: close and reconnects.");
ABSL_FLAG(std::string, body_file, "", "Body template with @@NBTAG@@.");
ABSL_FLAG(std::string, headers_file, "",
          "Extra request headers, one 'Name: value' per line.");
ABSL_FLAG(int32_t, run_id, 1, "Run id written into every tag (0..999999).");
ABSL_FLAG(int32_t, timeout_ms, 10000, "Per-request timeout.");

namespace nb = ngsi_bridge::bench;

namespace {

constexpr char kPlaceholder[] = "@@NBTAG@@";
constexpr size_t kPlaceholderSize = sizeof(kPlaceholder) - 1;

bool ContainsLower(absl::string_view text, absl::string_view lower_needle) {
  return absl::StrContains(absl::AsciiStrToLower(text), lower_needle);
}

struct Stats {
  uint64_t sent = 0;
  uint64_t ok = 0;
  uint64_t non2xx = 0;
  uint64_t connect_errors = 0;
  uint64_t io_errors = 0;
  uint64_t timeouts = 0;
  uint64_t unfinished = 0;
  uint64_t connects = 0;
  uint64_t server_closes = 0;
  int64_t last_ok_ns = 0;
  std::map<int, uint64_t> status;
  std::vector<int64_t> latencies;
};

struct Conn {
  enum State { kIdle, kConnecting, kWriting, kReading };
  int fd = -1;
  State state = kIdle;
  std::string request;  // bytes of one request; the tag is rewritten in place
  size_t tag_offset = 0;
  size_t written = 0;
  std::string in;
  int64_t start_ns = 0;
  // Response parsing.
  bool headers_done = false;
  size_t body_start = 0;
  int64_t content_length = -1;  // -1: until the server closes
  bool close_after = false;
  int status = 0;
};

struct Shared {
  std::string head;    // request line and headers, up to the blank line
  std::string prefix;  // body before the tag
  std::string suffix;  // body after the tag
  sockaddr_in addr{};
  std::atomic<uint64_t> next_seq{0};
  int64_t max_requests = 0;
  uint32_t run_id = 1;
  bool keep_alive = true;
  int64_t timeout_ns = 0;
};

class Worker {
 public:
  Worker(Shared& shared, int connections, double rate, int64_t start_ns,
         int64_t end_ns)
      : shared_(shared), rate_(rate), start_ns_(start_ns), end_ns_(end_ns) {
    conns_.resize(connections);
    for (Conn& c : conns_) {
      c.request = shared_.head + shared_.prefix + std::string(nb::kTagLength, 'x') +
                  shared_.suffix;
      c.tag_offset = shared_.head.size() + shared_.prefix.size();
    }
  }

  void Run();
  Stats& stats() { return stats_; }

 private:
  bool StartRequest(Conn& c, int64_t now);
  void Close(Conn& c);
  void Fail(Conn& c, uint64_t Stats::*counter);
  void Write(Conn& c, int64_t now);
  void Read(Conn& c, int64_t now);
  bool ParseHeaders(Conn& c);
  void Complete(Conn& c, int64_t now);

  Shared& shared_;
  double rate_;
  int64_t start_ns_;
  int64_t end_ns_;
  int epoll_fd_ = -1;
  std::vector<Conn> conns_;
  Stats stats_;
};

void Worker::Close(Conn& c) {
  if (c.fd >= 0) ::close(c.fd);
  c.fd = -1;
  c.state = Conn::kIdle;
}

void Worker::Fail(Conn& c, uint64_t Stats::*counter) {
  ++(stats_.*counter);
  Close(c);
}

bool Worker::StartRequest(Conn& c, int64_t now) {
  if (shared_.max_requests > 0) {
    const uint64_t seq = shared_.next_seq.load(std::memory_order_relaxed);
    if (seq >= static_cast<uint64_t>(shared_.max_requests)) return false;
  }
  const uint64_t seq = shared_.next_seq.fetch_add(1);
  if (shared_.max_requests > 0 &&
      seq >= static_cast<uint64_t>(shared_.max_requests)) {
    return false;
  }
  nb::Tag tag{shared_.run_id, seq, now};
  nb::FormatTag(tag, &c.request[c.tag_offset]);
  c.start_ns = now;
  c.written = 0;
  c.in.clear();
  c.headers_done = false;
  c.content_length = -1;
  c.close_after = !shared_.keep_alive;
  c.status = 0;
  ++stats_.sent;
  if (c.fd < 0) {
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
      Fail(c, &Stats::connect_errors);
      return true;
    }
    const int yes = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
    ++stats_.connects;
    const int rc = ::connect(c.fd, reinterpret_cast<sockaddr*>(&shared_.addr),
                             sizeof(shared_.addr));
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.ptr = &c;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.fd, &ev);
    if (rc < 0 && errno != EINPROGRESS) {
      Fail(c, &Stats::connect_errors);
      return true;
    }
    c.state = Conn::kConnecting;
    if (rc < 0) return true;
  }
  c.state = Conn::kWriting;
  Write(c, now);
  return true;
}

void Worker::Write(Conn& c, int64_t now) {
  while (c.written < c.request.size()) {
    const ssize_t n = ::send(c.fd, c.request.data() + c.written,
                             c.request.size() - c.written, MSG_NOSIGNAL);
    if (n > 0) {
      c.written += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT;
      ev.data.ptr = &c;
      epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
      return;
    }
    Fail(c, &Stats::io_errors);
    return;
  }
  c.state = Conn::kReading;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &c;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
  (void)now;
}

bool Worker::ParseHeaders(Conn& c) {
  const size_t end = c.in.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  c.headers_done = true;
  c.body_start = end + 4;
  absl::string_view head(c.in.data(), end);
  const bool http10 = absl::StartsWith(head, "HTTP/1.0");
  if (head.size() >= 12) {
    int status = 0;
    if (absl::SimpleAtoi(head.substr(9, 3), &status)) c.status = status;
  }
  bool keep_alive_header = false;
  bool chunked = false;
  for (absl::string_view line : absl::StrSplit(head, "\r\n")) {
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    const absl::string_view name = line.substr(0, colon);
    const absl::string_view value =
        absl::StripAsciiWhitespace(line.substr(colon + 1));
    if (absl::EqualsIgnoreCase(name, "content-length")) {
      int64_t length = 0;
      if (absl::SimpleAtoi(value, &length)) c.content_length = length;
    } else if (absl::EqualsIgnoreCase(name, "connection")) {
      if (ContainsLower(value, "close")) c.close_after = true;
      if (ContainsLower(value, "keep-alive")) {
        keep_alive_header = true;
      }
    } else if (absl::EqualsIgnoreCase(name, "transfer-encoding")) {
      chunked = ContainsLower(value, "chunked");
    }
  }
  if (http10 && !keep_alive_header) c.close_after = true;
  if (c.status == 204 || c.status == 304 || c.status < 200) {
    c.content_length = 0;
  }
  // No benchmark target answers chunked; treat it as an error, never guess.
  if (chunked) c.status = -1;
  if (c.content_length < 0) c.close_after = true;
  return true;
}

void Worker::Complete(Conn& c, int64_t now) {
  const int64_t latency = now - c.start_ns;
  if (stats_.latencies.size() < 50000000) stats_.latencies.push_back(latency);
  ++stats_.status[c.status];
  if (c.status >= 200 && c.status < 300) {
    ++stats_.ok;
    stats_.last_ok_ns = now;
  } else {
    ++stats_.non2xx;
  }
  if (c.close_after) {
    Close(c);
  } else {
    c.state = Conn::kIdle;
  }
}

void Worker::Read(Conn& c, int64_t now) {
  char buffer[65536];
  while (true) {
    const ssize_t n = ::recv(c.fd, buffer, sizeof(buffer), 0);
    if (n > 0) {
      if (c.state != Conn::kReading) continue;  // stray bytes on an idle conn
      c.in.append(buffer, static_cast<size_t>(n));
      if (!c.headers_done && !ParseHeaders(c)) continue;
      if (c.content_length >= 0 &&
          c.in.size() >= c.body_start + static_cast<size_t>(c.content_length)) {
        Complete(c, now);
        return;
      }
      continue;
    }
    if (n == 0) {  // the server closed
      if (c.state == Conn::kReading && c.headers_done &&
          c.content_length < 0) {
        Complete(c, now);
        Close(c);
      } else if (c.state == Conn::kReading) {
        Fail(c, &Stats::io_errors);
      } else {
        ++stats_.server_closes;
        Close(c);
      }
      return;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    if (c.state == Conn::kIdle) {
      Close(c);
    } else {
      Fail(c, &Stats::io_errors);
    }
    return;
  }
}

void Worker::Run() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  const int64_t interval_ns =
      rate_ > 0 ? static_cast<int64_t>(1e9 / rate_) : 0;
  int64_t next_send = start_ns_;
  const int64_t drain_end = end_ns_ + shared_.timeout_ns + 1000000000;
  bool budget_left = true;
  std::vector<epoll_event> events(256);
  while (true) {
    int64_t now = nb::MonoNs();
    const bool sending = now < end_ns_ && budget_left;
    int busy = 0;
    for (Conn& c : conns_) {
      if (c.state != Conn::kIdle) {
        if (now - c.start_ns > shared_.timeout_ns) {
          Fail(c, &Stats::timeouts);
        } else {
          ++busy;
          continue;
        }
      }
      if (!sending) continue;
      if (interval_ns > 0 && now < next_send) continue;
      if (!StartRequest(c, now)) {
        budget_left = false;
        continue;
      }
      if (c.state != Conn::kIdle) ++busy;
      if (interval_ns > 0) next_send += interval_ns;
    }
    if (!sending && busy == 0) break;
    if (now > drain_end) {
      for (Conn& c : conns_) {
        if (c.state != Conn::kIdle) Fail(c, &Stats::unfinished);
      }
      break;
    }
    int timeout_ms = 5;
    if (interval_ns > 0 && sending && next_send > now) {
      timeout_ms = static_cast<int>(std::min<int64_t>(
          5, (next_send - now + 999999) / 1000000));
    }
    const int n = epoll_wait(epoll_fd_, events.data(),
                             static_cast<int>(events.size()), timeout_ms);
    now = nb::MonoNs();
    for (int i = 0; i < n; ++i) {
      Conn& c = *static_cast<Conn*>(events[i].data.ptr);
      if (c.fd < 0) continue;
      if (c.state == Conn::kConnecting) {
        int error = 0;
        socklen_t len = sizeof(error);
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &len);
        if (error != 0) {
          Fail(c, &Stats::connect_errors);
          continue;
        }
        if (!(events[i].events & EPOLLOUT)) continue;
        c.state = Conn::kWriting;
      }
      if (c.state == Conn::kWriting && (events[i].events & EPOLLOUT)) {
        Write(c, now);
        if (c.fd < 0) continue;
      }
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) Read(c, now);
    }
  }
  for (Conn& c : conns_) Close(c);
  ::close(epoll_fd_);
}

bool ReadFile(const std::string& path, std::string& out) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return false;
  std::stringstream buffer;
  buffer << file.rdbuf();
  out = buffer.str();
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  Shared shared;
  const std::string host = absl::GetFlag(FLAGS_host);
  const int port = absl::GetFlag(FLAGS_port);
  shared.addr.sin_family = AF_INET;
  shared.addr.sin_port = htons(static_cast<uint16_t>(port));
  if (port <= 0 || inet_pton(AF_INET, host.c_str(), &shared.addr.sin_addr) != 1) {
    std::fprintf(stderr, "nb_loadgen: bad --host/--port\n");
    return 2;
  }
  std::string body = "{\"tag\":\"@@NBTAG@@\"}";
  if (!absl::GetFlag(FLAGS_body_file).empty() &&
      !ReadFile(absl::GetFlag(FLAGS_body_file), body)) {
    std::fprintf(stderr, "nb_loadgen: cannot read --body_file\n");
    return 2;
  }
  const size_t at = body.find(kPlaceholder);
  if (at == std::string::npos) {
    std::fprintf(stderr, "nb_loadgen: body has no @@NBTAG@@\n");
    return 2;
  }
  shared.prefix = body.substr(0, at);
  shared.suffix = body.substr(at + kPlaceholderSize);
  std::string extra;
  if (!absl::GetFlag(FLAGS_headers_file).empty() &&
      !ReadFile(absl::GetFlag(FLAGS_headers_file), extra)) {
    std::fprintf(stderr, "nb_loadgen: cannot read --headers_file\n");
    return 2;
  }
  shared.keep_alive = absl::GetFlag(FLAGS_keep_alive);
  std::string head = absl::GetFlag(FLAGS_method) + " " +
                     absl::GetFlag(FLAGS_path) + " HTTP/1.1\r\nHost: " + host +
                     ":" + std::to_string(port) + "\r\n";
  for (absl::string_view line : absl::StrSplit(extra, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    head += std::string(line) + "\r\n";
  }
  head += "Content-Length: " +
          std::to_string(shared.prefix.size() + nb::kTagLength +
                         shared.suffix.size()) +
          "\r\n";
  head += shared.keep_alive ? "Connection: keep-alive\r\n"
                            : "Connection: close\r\n";
  head += "\r\n";
  shared.head = head;
  shared.max_requests = absl::GetFlag(FLAGS_max_requests);
  shared.run_id = static_cast<uint32_t>(absl::GetFlag(FLAGS_run_id));
  shared.timeout_ns = int64_t{absl::GetFlag(FLAGS_timeout_ms)} * 1000000;

  const int connections = std::max(1, absl::GetFlag(FLAGS_connections));
  const int threads =
      std::max(1, std::min(absl::GetFlag(FLAGS_threads), connections));
  const double rate = absl::GetFlag(FLAGS_rate);
  const double duration_s = std::min(absl::GetFlag(FLAGS_duration_s), 600.0);
  const double cpu_before = nb::CpuSeconds();
  const int64_t start_ns = nb::MonoNs();
  const int64_t end_ns = start_ns + static_cast<int64_t>(duration_s * 1e9);
  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < threads; ++t) {
    const int mine = connections / threads + (t < connections % threads);
    workers.push_back(std::make_unique<Worker>(shared, mine, rate / threads,
                                               start_ns, end_ns));
  }
  std::vector<std::thread> running;
  for (auto& worker : workers) {
    running.emplace_back([&worker] { worker->Run(); });
  }
  for (std::thread& t : running) t.join();
  const int64_t finish_ns = nb::MonoNs();

  Stats total;
  for (auto& worker : workers) {
    Stats& s = worker->stats();
    total.sent += s.sent;
    total.ok += s.ok;
    total.non2xx += s.non2xx;
    total.connect_errors += s.connect_errors;
    total.io_errors += s.io_errors;
    total.timeouts += s.timeouts;
    total.unfinished += s.unfinished;
    total.connects += s.connects;
    total.server_closes += s.server_closes;
    total.last_ok_ns = std::max(total.last_ok_ns, s.last_ok_ns);
    for (const auto& [code, count] : s.status) total.status[code] += count;
    total.latencies.insert(total.latencies.end(), s.latencies.begin(),
                           s.latencies.end());
  }
  const double elapsed = (finish_ns - start_ns) / 1e9;
  nb::LatencySummary latency = nb::Summarize(total.latencies);
  nlohmann::json out;
  out["sent"] = total.sent;
  out["ok"] = total.ok;
  out["non2xx"] = total.non2xx;
  out["errors"] = total.connect_errors + total.io_errors + total.timeouts +
                  total.unfinished;
  out["connect_errors"] = total.connect_errors;
  out["io_errors"] = total.io_errors;
  out["timeouts"] = total.timeouts;
  out["unfinished"] = total.unfinished;
  out["connects"] = total.connects;
  out["server_closes"] = total.server_closes;
  nlohmann::json status = nlohmann::json::object();
  for (const auto& [code, count] : total.status) {
    status[std::to_string(code)] = count;
  }
  out["status"] = status;
  out["elapsed_s"] = elapsed;
  // Over the time answers kept coming (the sending window, or longer while
  // the last answers drained), not the time spent waiting for timeouts.
  const double ok_window =
      std::max(duration_s, (total.last_ok_ns - start_ns) / 1e9);
  out["ok_per_s"] = total.ok > 0 ? total.ok / ok_window : 0.0;
  out["ok_window_s"] = ok_window;
  out["lat_p50_us"] = latency.p50_us;
  out["lat_p99_us"] = latency.p99_us;
  out["lat_max_us"] = latency.max_us;
  out["cpu_s"] = nb::CpuSeconds() - cpu_before;
  out["cpu_util"] = elapsed > 0 ? (nb::CpuSeconds() - cpu_before) / elapsed : 0;
  out["body_bytes"] = shared.prefix.size() + nb::kTagLength + shared.suffix.size();
  out["run_id"] = shared.run_id;
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
