#include "common/limited_http_server.h"

#include <atomic>
#include <functional>
#include <memory>
#include <utility>

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
      gate_(options, metrics),
      acceptor_(std::make_unique<Acceptor>(this)) {}

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

void LimitedHttpServer::Dispatch(int sock) {
  std::string source;
  if (!gate_.Admit(sock, source)) return;
  // Blocks while every worker is busy (ElasticThreadPool at its bound), so
  // further connections wait in the listen backlog.
  workers_->enqueue([this, sock, source = std::move(source)] {
    ((*server_).*ProcessAndCloseSocket())(sock);
    gate_.Release(source);
  });
}

}  // namespace ngsi_bridge::common
