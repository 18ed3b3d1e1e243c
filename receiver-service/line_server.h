#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/metrics.h"
#include "common/source_networks.h"
#include "receiver-service/event_hub.h"
#include "receiver-service/receiver_config.h"

namespace ngsi_bridge::receiver {

// The line for `record` in `format` (event-json | fpc | body), ending in
// '\n' and holding no other newline. `fpc` and `body` need the raw request
// (record.request); without it they fall back to event-json. Thread-safe.
std::string FormatLine(absl::string_view format, const LogRecord& record);
// The same, shared: the `event-json` line is the record's own
// (LogRecord::event_json_line(), rendered once for every listener and
// client; the pointer keeps the record alive), other formats a new string.
std::shared_ptr<const std::string> SharedLine(
    absl::string_view format, const std::shared_ptr<const LogRecord>& record);

// Whether `format` needs the raw request kept in the log.
bool LineFormatNeedsRequest(absl::string_view format);

// Per-client numbers for /metrics.
struct LineClientStats {
  std::string name;      // "line-<port>-<n>"
  size_t queued_bytes = 0;
  size_t queued_lines = 0;
};

// TCP line listeners for Spark's socketTextStream / socket source: every
// connected client gets every event published after it connected, one line
// each, in its listener's format. Plain POSIX sockets and one poll() thread;
// intake threads only append to per-client queues (bounded in bytes: a
// client that stops reading is disconnected, counted and logged once its
// queue passes the limit). Owned by ReceiverServer; `hub` and `metrics`
// must outlive it. Thread-safe after Start().
class LineServer {
 public:
  struct Options {
    std::string host = "0.0.0.0";
    std::vector<LineListenerConfig> listeners;
    size_t client_buffer_bytes = size_t{16} << 20;
  };

  LineServer(const Options& options, EventHub* hub,
             common::MetricsRegistry* metrics);
  ~LineServer();

  // Binds every listener (port 0 picks one), attaches to the hub and starts
  // the poll thread. kUnavailable when a port cannot be bound.
  absl::Status Start();
  // Accepts clients only from `sources` (empty: any): Spark's
  // socketTextStream cannot authenticate, so the network is the guard.
  // Others are closed at once, counted in
  // ngsi_receiver_line_connections_refused_total and logged at most once a
  // minute. Call before Start().
  void SetAllowedSources(common::SourceNetworks sources) {
    allowed_sources_ = std::move(sources);
  }
  // Bound ports, in listener order; valid after Start().
  std::vector<int> ports() const { return ports_; }
  // Closes listeners and clients and joins. Idempotent.
  void Shutdown();

  size_t client_count() const;
  // Clients closed for a full buffer: the metric's value, so the two never
  // disagree.
  uint64_t disconnected_slow_count() const;
  std::vector<LineClientStats> client_stats() const;

  // Appends the line for `record` to every client of listener `index`.
  // Never blocks. Called by the listener's hub sink.
  void Enqueue(size_t index, const std::shared_ptr<const LogRecord>& record);

 private:
  struct Client {
    int fd = -1;
    size_t listener = 0;
    std::string name;
    // Guarded by mu_: what intake threads appended.
    std::deque<std::shared_ptr<const std::string>> pending;
    size_t queued_bytes = 0;  // pending + sending
    size_t queued_lines = 0;
    bool overflowed = false;
    // Poll thread only: lines taken out of `pending`, being written.
    std::deque<std::shared_ptr<const std::string>> sending;
    size_t offset = 0;  // into sending.front()
  };

  void Run();
  void Accept(size_t listener);
  // Writes what it can without blocking; false when the client is gone.
  bool Flush(Client& client);
  void CloseClient(int id, const char* reason);
  void Wake();

  const Options options_;
  EventHub* const hub_;
  common::MetricsRegistry* const metrics_;
  common::Counter* lines_sent_ = nullptr;
  common::Counter* bytes_sent_ = nullptr;
  common::Counter* disconnects_slow_ = nullptr;
  common::Counter* disconnects_ = nullptr;
  common::Counter* refused_ = nullptr;
  common::SourceNetworks allowed_sources_;
  // Poll thread only: refusals are logged at most once a minute.
  absl::Time next_refusal_log_ = absl::InfinitePast();
  int64_t refusals_unlogged_ = 0;

  // Clients per listener, read without mu_ so that an event is not
  // formatted for a listener nobody is connected to.
  std::unique_ptr<std::atomic<int>[]> listener_clients_;
  std::vector<int> listen_fds_;
  std::vector<int> ports_;
  std::vector<std::shared_ptr<EventSink>> sinks_;
  int wake_fd_ = -1;
  std::thread thread_;
  bool started_ = false;
  bool shut_down_ = false;

  mutable absl::Mutex mu_;
  std::map<int, std::unique_ptr<Client>> clients_ ABSL_GUARDED_BY(mu_);
  int next_client_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace ngsi_bridge::receiver
