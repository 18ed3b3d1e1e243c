#include "common/http_server_setup.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/elastic_thread_pool.h"
#include "httplib.h"

namespace ngsi_bridge::common {

httplib::TaskQueue* NewTaskQueue(const HttpServerTuning& tuning) {
  if (tuning.max_worker_threads > tuning.worker_threads) {
    return new ElasticThreadPool(tuning.worker_threads,
                                 tuning.max_worker_threads);
  }
  return new httplib::ThreadPool(tuning.worker_threads);
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
