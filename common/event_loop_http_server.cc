#include "common/event_loop_http_server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <unordered_map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"

namespace ngsi_bridge::common {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
// Read per recv(); a read that fills it is followed by another, up to
// kMaxReadPerWakeup: a client sending faster than we parse can neither grow
// its buffer without bound before the parser sees it (a 413 is decided from
// the headers) nor keep the loop from its other connections.
constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxReadPerWakeup = 1024 * 1024;
// How long a closing connection waits for its client's FIN after ours,
// reading and dropping what it still sends (so the close is not a reset
// that could destroy the answer in flight).
constexpr auto kLingerTime = std::chrono::seconds(2);
// Answers a connection may have unsent before its further requests wait.
constexpr size_t kMaxUnsent = 256 * 1024;
// How long Shutdown() lets loops send answers already made.
constexpr auto kDrainTime = std::chrono::seconds(1);

void WakeFd(int fd) {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(fd, &one, sizeof(one));
}

void DrainFd(int fd) {
  uint64_t count = 0;
  [[maybe_unused]] ssize_t n = read(fd, &count, sizeof(count));
}

// A listening socket for host:port, bound exclusively.
absl::StatusOr<int> Listen(const std::string& host, int port, int backlog) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = absl::StrCat(port);
  if (int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(),
                           service.c_str(), &hints, &found);
      rc != 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot resolve listen address ", host, ": ", gai_strerror(rc)));
  }
  std::string last_error = "no address";
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    const int fd = socket(ai->ai_family,
                          ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    const int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
        listen(fd, backlog) == 0) {
      freeaddrinfo(found);
      return fd;
    }
    last_error = std::strerror(errno);
    close(fd);
  }
  freeaddrinfo(found);
  return absl::UnavailableError(absl::StrCat("cannot listen on ", host, ":",
                                             port, ": ", last_error));
}

int BoundPort(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return 0;
  }
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
}

}  // namespace

absl::string_view HttpReasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "";
  }
}

void AppendHttpResponse(const HttpResponse& response, bool close,
                        bool http10, bool head_only, std::string& out) {
  absl::StrAppend(&out, "HTTP/1.1 ", response.status, " ",
                  HttpReasonPhrase(response.status), "\r\n");
  for (const auto& [name, value] : response.headers) {
    if (absl::EqualsIgnoreCase(name, "Content-Length") ||
        absl::EqualsIgnoreCase(name, "Connection")) {
      continue;
    }
    absl::StrAppend(&out, name, ": ", value, "\r\n");
  }
  if (!response.body.empty() && !response.content_type.empty()) {
    absl::StrAppend(&out, "Content-Type: ", response.content_type, "\r\n");
  }
  if (response.status != 204) {
    absl::StrAppend(&out, "Content-Length: ", response.body.size(), "\r\n");
  }
  if (close) {
    out += "Connection: close\r\n";
  } else if (http10) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  if (!head_only && response.status != 204) out += response.body;
}

// One event loop: an epoll set of connections, served on one thread. Other
// threads only Adopt() connections and Stop() it (both through an eventfd);
// everything else runs on the loop's thread.
class EventLoopHttpServer::Loop {
 public:
  explicit Loop(EventLoopHttpServer* server)
      : server_(server), read_buffer_(kReadChunk) {}
  ~Loop() {
    // Connections handed over after the loop ended.
    absl::MutexLock lock(&mu_);
    for (auto& [fd, source] : adopted_) {
      close(fd);
      server_->gate_.Release(source);
    }
    if (epoll_fd_ >= 0) close(epoll_fd_);
    if (wake_fd_ >= 0) close(wake_fd_);
  }

  absl::Status Init() {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epoll_fd_ < 0 || wake_fd_ < 0) {
      return absl::InternalError(
          absl::StrCat("cannot set up epoll: ", std::strerror(errno)));
    }
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.ptr = nullptr;  // the wake-up
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &event) != 0) {
      return absl::InternalError(
          absl::StrCat("cannot set up epoll: ", std::strerror(errno)));
    }
    return absl::OkStatus();
  }

  // Hands a connected socket (admitted by the gate) to this loop.
  void Adopt(int fd, std::string source) {
    {
      absl::MutexLock lock(&mu_);
      adopted_.emplace_back(fd, std::move(source));
    }
    WakeFd(wake_fd_);
  }

  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    WakeFd(wake_fd_);
  }

  void Run() {
    epoll_event events[128];
    Clock::time_point next_sweep = Clock::now() + std::chrono::seconds(1);
    Clock::time_point drain_deadline{};
    bool draining = false;
    for (;;) {
      const int timeout_ms = draining ? 10 : 250;
      const int n = epoll_wait(epoll_fd_, events, 128, timeout_ms);
      if (n < 0 && errno != EINTR) {
        LogError("epoll_wait failed", {{"error", std::strerror(errno)}});
        break;
      }
      now_ = Clock::now();
      for (int i = 0; i < n; ++i) {
        auto* connection = static_cast<Connection*>(events[i].data.ptr);
        if (connection == nullptr) {
          DrainFd(wake_fd_);
          if (TakeAdopted() && !draining) {
            draining = true;
            drain_deadline = now_ + kDrainTime;
            StopReadingAll();
            // StopReadingAll() closed (freed) connections the rest of this
            // batch may still point to: drop it. Epoll is level-triggered,
            // so the next wait reports again what still matters (sockets
            // with answers to send).
            break;
          }
          continue;
        }
        OnEvents(*connection, events[i].events);
      }
      if (draining) {
        if (connections_.empty() || now_ >= drain_deadline) break;
      } else if (now_ >= next_sweep) {
        next_sweep = now_ + std::chrono::seconds(1);
        Sweep();
      }
    }
    while (!connections_.empty()) Close(*connections_.begin()->second);
  }

 private:
  struct Connection {
    Connection(int fd_in, std::string source_in, const HttpParseLimits& limits)
        : fd(fd_in), source(std::move(source_in)), parser(limits) {}
    const int fd;
    const std::string source;
    HttpRequestParser parser;
    std::string in;       // bytes read, from in_pos on not yet consumed
    size_t in_pos = 0;
    std::string out;      // answers not yet sent, from out_pos on
    size_t out_pos = 0;
    uint32_t interest = 0;  // epoll events asked for
    size_t served = 0;      // requests answered
    bool continue_sent = false;
    bool peer_closed = false;  // read returned 0: no more requests
    bool closing = false;      // close once `out` is sent
    bool lingering = false;    // our FIN sent; waiting for the client's
    Clock::time_point last_read;
    Clock::time_point last_write;
    Clock::time_point request_start;  // first byte of a partial request
    Clock::time_point linger_start;
  };

  // True once Stop() was called. Registers connections handed over.
  bool TakeAdopted() {
    std::vector<std::pair<int, std::string>> adopted;
    bool stop = false;
    {
      absl::MutexLock lock(&mu_);
      adopted.swap(adopted_);
      stop = stop_;
    }
    for (auto& [fd, source] : adopted) {
      auto connection = std::make_unique<Connection>(
          fd, std::move(source), server_->options_.limits);
      connection->last_read = connection->last_write = now_;
      Connection& added = *connection;
      connections_.emplace(fd, std::move(connection));
      epoll_event event{};
      event.events = EPOLLIN;
      event.data.ptr = &added;
      if (stop || epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
        Close(added);
        continue;
      }
      added.interest = EPOLLIN;
    }
    return stop;
  }

  void OnEvents(Connection& connection, uint32_t events) {
    if (connection.lingering) {
      Linger(connection);
      return;
    }
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0 && !Read(connection)) {
      return;  // closed
    }
    // Requests held back behind unsent answers are served once those are
    // out, in the same wake-up when the socket takes them at once.
    for (;;) {
      const bool answered = Serve(connection);
      if (!Flush(connection)) return;  // closed
      if (!answered || connection.out_pos < connection.out.size()) break;
    }
    UpdateInterest(connection);
  }

  // Reads what the socket has; false when the connection is gone.
  bool Read(Connection& connection) {
    for (size_t read = 0; read < kMaxReadPerWakeup;) {
      const ssize_t n =
          recv(connection.fd, read_buffer_.data(), read_buffer_.size(), 0);
      if (n > 0) {
        if (connection.in_pos == connection.in.size()) {
          connection.request_start = now_;  // a new request begins
        }
        connection.in.append(read_buffer_.data(), static_cast<size_t>(n));
        connection.last_read = now_;
        read += static_cast<size_t>(n);
        // A short read emptied the socket: save the recv() that would only
        // say EAGAIN (level-triggered epoll reports what comes later).
        if (static_cast<size_t>(n) < read_buffer_.size()) return true;
        continue;
      }
      if (n == 0) {
        connection.peer_closed = true;
        return true;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      Close(connection);  // reset by the peer
      return false;
    }
    return true;  // more may be waiting: epoll reports it again
  }

  // Answers the complete requests buffered, in order, until the unsent
  // answers reach kMaxUnsent. Whether it answered any.
  bool Serve(Connection& connection) {
    const Options& options = server_->options_;
    bool answered = false;
    while (!connection.closing &&
           connection.out.size() - connection.out_pos < kMaxUnsent) {
      HttpRequestParser& parser = connection.parser;
      const absl::string_view input =
          absl::string_view(connection.in).substr(connection.in_pos);
      if (input.empty()) break;
      const HttpRequestParser::Result result = parser.Parse(input);
      if (result == HttpRequestParser::Result::kNeedMore) {
        if (parser.headers_complete() && parser.expects_continue() &&
            !connection.continue_sent && !connection.peer_closed) {
          connection.out += kContinue;
          connection.continue_sent = true;
        }
        break;
      }
      if (result == HttpRequestParser::Result::kError) {
        AppendHttpResponse(
            server_->on_error_(parser.error_status(), parser.error()),
            /*close=*/true, /*http10=*/false, /*head_only=*/false,
            connection.out);
        connection.closing = true;
        break;
      }
      answered = true;
      HttpRequest request = std::move(parser.request());
      connection.in_pos += parser.consumed();
      parser.Reset();
      connection.continue_sent = false;
      connection.request_start = now_;
      ++connection.served;
      const bool keep = request.keep_alive &&
                        connection.served < options.tuning.keep_alive_max_count;
      const bool http10 = request.minor_version == 0;
      const bool head_only = request.method == "HEAD";
      request.remote_addr = connection.source;
      AppendHttpResponse(server_->handler_(request), !keep, http10, head_only,
                         connection.out);
      if (!keep) connection.closing = true;
    }
    // Keep only the unconsumed bytes: the parser's offsets start there.
    if (connection.in_pos == connection.in.size()) {
      connection.in.clear();
      connection.in_pos = 0;
    } else if (connection.in_pos > 0) {
      connection.in.erase(0, connection.in_pos);
      connection.in_pos = 0;
    }
    if (connection.peer_closed && connection.out.size() == connection.out_pos) {
      // The client sent all it will; nothing more can be answered.
      connection.closing = true;
    }
    return answered;
  }

  // Sends what is pending; false when the connection was closed.
  bool Flush(Connection& connection) {
    while (connection.out_pos < connection.out.size()) {
      const ssize_t n =
          send(connection.fd, connection.out.data() + connection.out_pos,
               connection.out.size() - connection.out_pos, MSG_NOSIGNAL);
      if (n > 0) {
        connection.out_pos += static_cast<size_t>(n);
        connection.last_write = now_;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
      Close(connection);
      return false;
    }
    connection.out.clear();
    connection.out_pos = 0;
    if (connection.closing && !connection.lingering) {
      if (connection.peer_closed) {
        Close(connection);
        return false;
      }
      shutdown(connection.fd, SHUT_WR);
      connection.lingering = true;
      connection.linger_start = now_;
    }
    return true;
  }

  // Reads and drops what a closing client still sends, until its FIN.
  void Linger(Connection& connection) {
    for (;;) {
      const ssize_t n =
          recv(connection.fd, read_buffer_.data(), read_buffer_.size(), 0);
      if (n > 0) continue;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      Close(connection);
      return;
    }
  }

  // Asks epoll for writability while answers are unsent and for reads
  // otherwise: a client that does not read its answers is not read either.
  void UpdateInterest(Connection& connection) {
    uint32_t wanted = 0;
    if (connection.out_pos < connection.out.size()) {
      wanted = EPOLLOUT;
    } else if (connection.lingering ||
               (!connection.peer_closed && !connection.closing)) {
      wanted = EPOLLIN;
    }
    if (wanted == 0) {
      Close(connection);
      return;
    }
    SetInterest(connection, wanted);
  }

  void SetInterest(Connection& connection, uint32_t wanted) {
    if (wanted == connection.interest) return;
    epoll_event event{};
    event.events = wanted;
    event.data.ptr = &connection;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, connection.fd, &event) == 0) {
      connection.interest = wanted;
    }
  }

  // On Shutdown(): no more requests; answers already made still go out,
  // then the connection closes.
  void StopReadingAll() {
    std::vector<Connection*> all;
    for (auto& [fd, connection] : connections_) all.push_back(connection.get());
    for (Connection* connection : all) {
      if (connection->out_pos == connection->out.size()) {
        Close(*connection);
        continue;
      }
      connection->peer_closed = true;
      connection->closing = true;
      SetInterest(*connection, EPOLLOUT);
    }
  }

  // Closes connections past their timeouts.
  void Sweep() {
    const HttpServerTuning& tuning = server_->options_.tuning;
    const auto read_timeout = std::chrono::seconds(tuning.read_timeout_seconds);
    const auto idle_timeout =
        std::chrono::seconds(tuning.keep_alive_timeout_seconds);
    const auto write_timeout =
        std::chrono::seconds(tuning.write_timeout_seconds);
    std::vector<Connection*> expired;
    std::vector<Connection*> too_slow;
    for (auto& [fd, connection] : connections_) {
      Connection& c = *connection;
      if (c.lingering) {
        if (now_ - c.linger_start > kLingerTime) expired.push_back(&c);
      } else if (c.out_pos < c.out.size()) {
        if (now_ - c.last_write > write_timeout) expired.push_back(&c);
      } else if (c.in_pos < c.in.size()) {
        if (now_ - c.request_start > read_timeout) too_slow.push_back(&c);
      } else if (now_ - c.last_read > idle_timeout) {
        expired.push_back(&c);
      }
    }
    for (Connection* c : expired) Close(*c);
    for (Connection* c : too_slow) {
      AppendHttpResponse(
          server_->on_error_(408, absl::StrCat("request not complete within ",
                                               tuning.read_timeout_seconds,
                                               " s")),
          /*close=*/true, /*http10=*/false, /*head_only=*/false, c->out);
      c->closing = true;
      c->in.clear();
      c->in_pos = 0;
      if (Flush(*c)) UpdateInterest(*c);
    }
  }

  void Close(Connection& connection) {
    const int fd = connection.fd;
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    server_->gate_.Release(connection.source);
    connections_.erase(fd);  // destroys `connection`
  }

  EventLoopHttpServer* const server_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::vector<char> read_buffer_;
  Clock::time_point now_ = Clock::now();  // of the current wake-up
  std::unordered_map<int, std::unique_ptr<Connection>> connections_;

  absl::Mutex mu_;
  std::vector<std::pair<int, std::string>> adopted_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
};

EventLoopHttpServer::EventLoopHttpServer(const Options& options,
                                         Handler handler,
                                         ErrorHandler on_error,
                                         MetricsRegistry* metrics)
    : options_(options),
      handler_(std::move(handler)),
      on_error_(std::move(on_error)),
      gate_(options.gate, metrics) {}

EventLoopHttpServer::~EventLoopHttpServer() { Shutdown(); }

absl::StatusOr<int> EventLoopHttpServer::Start(const std::string& host,
                                               int port) {
  auto listening = Listen(host, port, options_.tuning.listen_backlog);
  if (!listening.ok()) return listening.status();
  listen_fd_ = *listening;
  stop_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (stop_fd_ < 0) {
    return absl::InternalError(
        absl::StrCat("cannot create an eventfd: ", std::strerror(errno)));
  }
  const int loops = options_.loops > 0
                        ? options_.loops
                        : std::max(1u, std::thread::hardware_concurrency());
  for (int i = 0; i < loops; ++i) {
    auto loop = std::make_unique<Loop>(this);
    if (absl::Status status = loop->Init(); !status.ok()) return status;
    loops_.push_back(std::move(loop));
  }
  for (auto& loop : loops_) {
    loop_threads_.emplace_back([&loop = *loop] { loop.Run(); });
  }
  accept_thread_ = std::thread([this] { AcceptUntilStopped(); });
  return BoundPort(listen_fd_);
}

void EventLoopHttpServer::AcceptUntilStopped() {
  size_t next = 0;
  pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0 && errno != EINTR) {
      LogError("poll on the listen socket failed",
               {{"error", std::strerror(errno)}});
      return;
    }
    if (fds[1].revents != 0) return;
    for (;;) {
      const int fd = accept4(listen_fd_, nullptr, nullptr,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        // EAGAIN: all accepted. EMFILE and the like: the connection stays
        // in the backlog; the next poll() retries after a pause.
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
            errno != ECONNABORTED) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        break;
      }
      std::string source;
      if (!gate_.Admit(fd, source)) continue;
      // Answers are one write each; do not let Nagle hold a pipelined one.
      const int yes = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
      loops_[next++ % loops_.size()]->Adopt(fd, std::move(source));
    }
  }
}

void EventLoopHttpServer::Shutdown() {
  if (stopped_.exchange(true)) return;
  if (accept_thread_.joinable()) {
    WakeFd(stop_fd_);
    accept_thread_.join();
  }
  if (listen_fd_ >= 0) close(listen_fd_);
  for (auto& loop : loops_) loop->Stop();
  for (std::thread& thread : loop_threads_) thread.join();
  if (stop_fd_ >= 0) close(stop_fd_);
  listen_fd_ = stop_fd_ = -1;
}

}  // namespace ngsi_bridge::common
