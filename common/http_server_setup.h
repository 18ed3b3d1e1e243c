#pragma once

#include <cstddef>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace httplib {
class Server;
class TaskQueue;
}

namespace ngsi_bridge::common {

// Run-time settings for a cpp-httplib server. Debian's cpp-httplib is a
// compiled library, so its CPPHTTPLIB_* macros cannot be changed; its
// defaults (8 workers, a reconnect every 5 keep-alive requests, listen
// backlog 5) halve throughput under concurrent senders.
struct HttpServerTuning {
  size_t worker_threads = 8;
  // Above worker_threads: workers are added while every one is busy, up to
  // this many (ElasticThreadPool), so slow connections cannot take every
  // worker; beyond it new connections wait in the listen backlog. 0 keeps
  // a fixed pool of worker_threads.
  size_t max_worker_threads = 0;
  size_t keep_alive_max_count = 1000000;
  int keep_alive_timeout_seconds = 30;
  int read_timeout_seconds = 10;
  int write_timeout_seconds = 10;
  int listen_backlog = 4096;
  // Added to the nice value of every worker thread (0: unchanged; 1..19
  // lowers their CPU share). On a saturated CPU the receiver's delivery
  // threads (gRPC, line clients) then win over intake, so consumers keep up
  // with what was accepted instead of lagging by seconds; intake only slows
  // when the CPU is full anyway.
  int worker_nice = 0;
};

// A new worker pool as `tuning` says (httplib's new_task_queue): an
// ElasticThreadPool, or a fixed httplib::ThreadPool, whose threads run at
// `worker_nice`. The caller owns it.
httplib::TaskQueue* NewTaskQueue(const HttpServerTuning& tuning);

// Applies the per-connection settings of `tuning` (keep-alive, timeouts).
void ApplyConnectionTuning(httplib::Server& server,
                           const HttpServerTuning& tuning);

// Applies `tuning` and binds `server` to host:port (0 picks a free port),
// returning the bound port. Binds exclusively: cpp-httplib sets SO_REUSEPORT
// by default, which would let a second process silently share our port.
// kUnavailable when the port cannot be bound. Call before listening.
absl::StatusOr<int> BindHttpServer(httplib::Server& server,
                                   const std::string& host, int port,
                                   const HttpServerTuning& tuning);

// Runs `server`'s listen loop (after BindHttpServer) on `thread` and returns
// once it accepts connections, or kUnavailable when the loop ended at once.
// Waiting matters: httplib's stop() is a no-op until the loop has marked
// itself running, so a Shutdown() right after a Start() that did not wait
// would join forever. Blocks for about a millisecond.
absl::Status ServeOnThread(httplib::Server& server, std::thread& thread);

}  // namespace ngsi_bridge::common
