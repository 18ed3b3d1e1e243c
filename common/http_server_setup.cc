#include "common/http_server_setup.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/elastic_thread_pool.h"
#include "httplib.h"

namespace ngsi_bridge::common {

namespace {

// Runs every task of `pool` at nice value `nice` (on Linux, setpriority
// on a thread id acts on that thread only). Set on a worker's first task:
// httplib's pools start their threads out of our reach. Absolute, not
// relative: an ElasticThreadPool worker started by a lowered worker
// inherits its value.
class NicedTaskQueue : public httplib::TaskQueue {
 public:
  NicedTaskQueue(httplib::TaskQueue* pool, int nice)
      : pool_(pool), nice_(nice) {}

  void enqueue(std::function<void()> fn) override {
    pool_->enqueue([nice = nice_, fn = std::move(fn)] {
      thread_local bool lowered = false;
      if (!lowered) {
        lowered = true;
        // Raising one's own nice value needs no privilege; a failure leaves
        // the default priority, which is only slower for consumers.
        setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), nice);
      }
      fn();
    });
  }
  void shutdown() override { pool_->shutdown(); }

 private:
  std::unique_ptr<httplib::TaskQueue> pool_;
  const int nice_;
};

// The absolute nice value for worker threads of `tuning`: the process's own
// plus worker_nice, at most 19; nullopt to leave them as they are
// (worker_nice 0, or the process's value cannot be read). Call on a thread
// at the process's priority.
std::optional<int> WorkerNiceValue(const HttpServerTuning& tuning) {
  if (tuning.worker_nice <= 0) return std::nullopt;
  // Relative to the process's own value (the calling thread's).
  errno = 0;
  const int base = getpriority(PRIO_PROCESS, 0);
  if (errno != 0) return std::nullopt;
  return std::min(19, base + tuning.worker_nice);
}

}  // namespace

httplib::TaskQueue* NewTaskQueue(const HttpServerTuning& tuning) {
  httplib::TaskQueue* pool =
      tuning.max_worker_threads > tuning.worker_threads
          ? static_cast<httplib::TaskQueue*>(new ElasticThreadPool(
                tuning.worker_threads, tuning.max_worker_threads))
          : new httplib::ThreadPool(tuning.worker_threads);
  const std::optional<int> nice = WorkerNiceValue(tuning);
  if (!nice) return pool;
  return new NicedTaskQueue(pool, *nice);
}

void ApplyConnectionTuning(httplib::Server& server,
                           const HttpServerTuning& tuning) {
  server.set_keep_alive_max_count(tuning.keep_alive_max_count);
  server.set_keep_alive_timeout(tuning.keep_alive_timeout_seconds);
  server.set_read_timeout(tuning.read_timeout_seconds, 0);
  server.set_write_timeout(tuning.write_timeout_seconds, 0);
}

absl::StatusOr<int> BindHttpServer(httplib::Server& server,
                                   const std::string& host, int port,
                                   const HttpServerTuning& tuning) {
  server.new_task_queue = [tuning] { return NewTaskQueue(tuning); };
  ApplyConnectionTuning(server, tuning);

  // The options callback is the only place httplib shows us the listening
  // socket; keep it to raise the backlog after bind.
  auto listen_fd = std::make_shared<int>(-1);
  server.set_socket_options([listen_fd](socket_t sock) {
    const int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
    *listen_fd = sock;
  });
  const int bound = port == 0 ? server.bind_to_any_port(host)
                              : (server.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot bind HTTP port ", host, ":", port));
  }
  // listen() on a listening socket updates its backlog (Linux).
  if (*listen_fd >= 0) ::listen(*listen_fd, tuning.listen_backlog);
  return bound;
}

absl::Status ServeOnThread(httplib::Server& server, std::thread& thread) {
  auto loop_ended = std::make_shared<std::atomic<bool>>(false);
  thread = std::thread([&server, loop_ended] {
    server.listen_after_bind();
    loop_ended->store(true);
  });
  while (!server.is_running()) {
    if (loop_ended->load()) {
      return absl::UnavailableError("HTTP listen loop ended at start");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return absl::OkStatus();
}

}  // namespace ngsi_bridge::common
