#include "common/limited_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "httplib.h"

namespace ngsi_bridge::common {
namespace {

// httplib 0.11 accepts in a private loop and hands each socket to the
// private virtual Server::process_and_close_socket(); its task queue sees
// only an opaque closure. So the Acceptor below overrides that function to
// see the socket, and calls the real one on the serving Server (whose
// dynamic type picks the plain or the TLS version) through a member pointer.
// An explicit instantiation may name private and protected members
// ([temp.explicit]: access is not checked there), which is the one
// standard way to form such a pointer; the serving Server's listen socket
// is reached the same way (its keep-alive loop runs while it is valid).
using ProcessMember = bool (httplib::Server::*)(socket_t);
using ListenSocketMember = std::atomic<socket_t> httplib::Server::*;

ProcessMember ProcessAndCloseSocket();
ListenSocketMember ListenSocket();

template <ProcessMember kProcess, ListenSocketMember kListen>
struct HttplibPrivates {
  friend ProcessMember ProcessAndCloseSocket() { return kProcess; }
  friend ListenSocketMember ListenSocket() { return kListen; }
};
template struct HttplibPrivates<&httplib::Server::process_and_close_socket,
                                &httplib::Server::svr_sock_>;

// The source of a connection as text; IPv4-mapped IPv6 as plain IPv4.
std::string PeerAddress(int sock) {
  sockaddr_storage peer{};
  socklen_t length = sizeof(peer);
  if (getpeername(sock, reinterpret_cast<sockaddr*>(&peer), &length) != 0) {
    return "unknown";
  }
  char text[INET6_ADDRSTRLEN] = "";
  if (peer.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&peer);
    inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
  } else if (peer.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&peer);
    if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
      inet_ntop(AF_INET, &v6->sin6_addr.s6_addr[12], text, sizeof(text));
    } else {
      inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
    }
  }
  return text[0] == '\0' ? "unknown" : text;
}

const std::string& Canned503() {
  static const std::string* response = [] {
    const std::string body =
        "{\"error\":\"ServiceUnavailable\",\"description\":\"too many "
        "connections; retry later\"}";
    return new std::string(absl::StrCat(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: "
        "application/json\r\nContent-Length: ",
        body.size(), "\r\nRetry-After: 1\r\nConnection: close\r\n\r\n",
        body));
  }();
  return *response;
}

}  // namespace

class LimitedHttpServer::Acceptor : public httplib::Server {
 public:
  explicit Acceptor(LimitedHttpServer* owner) : owner_(owner) {}
  socket_t listen_socket() const { return svr_sock_; }

 private:
  // Runs on the accept thread (InlineQueue).
  bool process_and_close_socket(socket_t sock) override {
    owner_->Dispatch(sock);
    return true;
  }

  LimitedHttpServer* const owner_;
};

// The Acceptor's task queue: runs each connection's first step (a
// getpeername and a map lookup) on the accept thread itself, so a refused
// connection never takes a worker; admitted ones go to `workers`. Shutting
// it down lets the workers finish.
class LimitedHttpServer::InlineQueue : public httplib::TaskQueue {
 public:
  explicit InlineQueue(httplib::TaskQueue* workers) : workers_(workers) {}
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override { workers_->shutdown(); }

 private:
  std::unique_ptr<httplib::TaskQueue> workers_;
};

LimitedHttpServer::LimitedHttpServer(httplib::Server* server,
                                     const Options& options,
                                     MetricsRegistry* metrics)
    : server_(server),
      options_(options),
      limiter_(options.limits),
      acceptor_(std::make_unique<Acceptor>(this)) {
  if (metrics != nullptr) {
    const std::string refused =
        absl::StrCat(options_.metric_prefix, "_connections_refused_total");
    const char* help =
        "Connections closed at once for passing a connection cap, by cap.";
    refused_source_ =
        &metrics->GetCounter(refused, help, {{"reason", "source"}});
    refused_total_ =
        &metrics->GetCounter(refused, help, {{"reason", "total"}});
    open_ = &metrics->GetGauge(
        absl::StrCat(options_.metric_prefix, "_connections_open"),
        "Connections open (admitted, not yet closed).");
  }
}

LimitedHttpServer::~LimitedHttpServer() { Shutdown(); }

absl::StatusOr<int> LimitedHttpServer::Start(const std::string& host,
                                             int port,
                                             const HttpServerTuning& tuning) {
  ApplyConnectionTuning(*server_, tuning);
  auto bound = BindHttpServer(*acceptor_, host, port, tuning);
  if (!bound.ok()) return bound.status();
  acceptor_->new_task_queue = [this, tuning]() -> httplib::TaskQueue* {
    httplib::TaskQueue* workers = NewTaskQueue(tuning);
    workers_ = workers;  // the accept thread, before its first accept
    return new InlineQueue(workers);
  };
  (*server_).*ListenSocket() = acceptor_->listen_socket();
  if (absl::Status status = ServeOnThread(*acceptor_, thread_); !status.ok()) {
    return status;
  }
  return *bound;
}

void LimitedHttpServer::Shutdown() {
  // Ends the keep-alive loops of connections in flight after their
  // current request, as httplib's own stop() does.
  (*server_).*ListenSocket() = INVALID_SOCKET;
  acceptor_->stop();
  if (thread_.joinable()) thread_.join();
}

uint64_t LimitedHttpServer::refused_count() const {
  absl::MutexLock lock(&mu_);
  return refused_;
}

void LimitedHttpServer::Dispatch(int sock) {
  std::string source = PeerAddress(sock);
  const ConnectionLimiter::Verdict verdict = limiter_.Acquire(source);
  if (verdict != ConnectionLimiter::Verdict::kAdmitted) {
    Refuse(sock, verdict, source);
    return;
  }
  if (open_ != nullptr) open_->Add(1);
  // Blocks while every worker is busy (ElasticThreadPool at its bound), so
  // further connections wait in the listen backlog.
  workers_->enqueue([this, sock, source = std::move(source)] {
    ((*server_).*ProcessAndCloseSocket())(sock);
    limiter_.Release(source);
    if (open_ != nullptr) open_->Add(-1);
  });
}

void LimitedHttpServer::Refuse(int sock, ConnectionLimiter::Verdict verdict,
                               const std::string& source) {
  const bool per_source =
      verdict == ConnectionLimiter::Verdict::kOverSourceLimit;
  // Counted before the close, so whoever sees the close sees the count.
  Counter* counter = per_source ? refused_source_ : refused_total_;
  if (counter != nullptr) counter->Increment();
  uint64_t unlogged = 0;
  {
    absl::MutexLock lock(&mu_);
    ++refused_;
    ++refused_unlogged_;
    const absl::Time now = absl::Now();
    if (now >= next_log_) {
      next_log_ = now + options_.log_interval;
      unlogged = refused_unlogged_;
      refused_unlogged_ = 0;
    }
  }
  if (options_.answer_503) {
    // The socket buffer of a new connection is empty: this never blocks
    // and almost always writes it all. What the client already sent is read
    // and dropped so that close() sends a FIN, not a reset that could
    // discard the answer.
    const std::string& answer = Canned503();
    [[maybe_unused]] ssize_t sent =
        send(sock, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(sock, SHUT_WR);
    char scratch[4096];
    for (int i = 0; i < 16; ++i) {
      if (recv(sock, scratch, sizeof(scratch), MSG_DONTWAIT) <= 0) break;
    }
  }
  close(sock);
  if (unlogged == 0) return;  // logged less than log_interval ago
  LogWarning("connections refused over a cap",
             {{"listener", options_.metric_prefix},
              {"refused", static_cast<int64_t>(unlogged)},
              {"last_source", source},
              {"last_reason", std::string(per_source ? "source" : "total")},
              {"max_per_source", int64_t{options_.limits.max_per_source}},
              {"max_total", int64_t{options_.limits.max_total}}});
}

}  // namespace ngsi_bridge::common
