#include "receiver-service/line_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "nlohmann/json.hpp"

namespace ngsi_bridge::receiver {
namespace {

using OrderedJson = nlohmann::ordered_json;

std::string JsonString(absl::string_view text) {
  // Header values may carry bytes that are not UTF-8; replace rather than
  // throw (nlohmann's dump() throws on invalid UTF-8 by default).
  return nlohmann::json(std::string(text))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The body on one line. A line-based reader splits on '\n', so a
// pretty-printed JSON body is re-serialized compactly (key order kept); any
// other text has its line breaks turned into spaces.
std::string OneLine(absl::string_view body) {
  if (body.find_first_of("\r\n") == absl::string_view::npos) {
    return std::string(body);
  }
  const OrderedJson doc = OrderedJson::parse(body.begin(), body.end(),
                                             nullptr, false);
  if (!doc.is_discarded()) {
    return doc.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
  }
  std::string line(body);
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return line;
}

// Python's datetime.isoformat() of a naive datetime, as the old connector
// stamped with datetime.now(): microseconds, omitted when zero.
std::string PythonIsoFormat(const google::protobuf::Timestamp& ts) {
  const absl::Time time =
      absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
  std::string text =
      absl::FormatTime("%Y-%m-%dT%H:%M:%S", time, absl::UTCTimeZone());
  const int micros = ts.nanos() / 1000;
  if (micros != 0) {
    char fraction[16];
    std::snprintf(fraction, sizeof(fraction), ".%06d", micros);
    text += fraction;
  }
  return text;
}

// The old connector's `timestamp`: it walked body.split(",") and kept, from
// the LAST piece only, the notifiedAt value when that piece names it, else
// its own receive time. Reproduced as is so fpc.connector.parse gives the
// same NGSIEvent.
std::string FpcTimestamp(absl::string_view body,
                         const google::protobuf::Timestamp& received_at) {
  const std::vector<absl::string_view> pieces = absl::StrSplit(body, ',');
  const absl::string_view last = pieces.back();
  if (absl::StrContains(last, "notifiedAt")) {
    const std::vector<absl::string_view> quoted = absl::StrSplit(last, '"');
    if (quoted.size() > 3) return std::string(quoted[3]);
  }
  return PythonIsoFormat(received_at);
}

// fpc.connector.parse looks these up case-sensitively, as Orion spells them;
// a proxy that lower-cases header names must not lose tenant or @context.
std::string FpcHeaderName(absl::string_view name) {
  if (absl::EqualsIgnoreCase(name, "fiware-service")) return "Fiware-Service";
  if (absl::EqualsIgnoreCase(name, "fiware-servicepath")) {
    return "Fiware-Servicepath";
  }
  if (absl::EqualsIgnoreCase(name, "link")) return "Link";
  return std::string(name);
}

// The old connector's request_completeness=True line:
// {"timestamp":..., <every header>, "Body": <body>} with '"' in header
// values turned into "'" (as it did), here also JSON-escaped so the line
// always parses.
std::string FpcLine(const LogRecord& record) {
  const NotificationRequest& request = *record.request;
  std::string line = "{\"timestamp\":";
  line += JsonString(FpcTimestamp(request.body, record.event.received_at()));
  for (const auto& [name, value] : request.headers) {
    std::string quoted = value;
    for (char& c : quoted) {
      if (c == '"') c = '\'';
    }
    absl::StrAppend(&line, ",", JsonString(FpcHeaderName(name)), ":",
                    JsonString(quoted));
  }
  line += ",\"Body\":";
  const absl::string_view body = absl::StripAsciiWhitespace(request.body);
  if (body.empty()) {
    // Orion's empty custom body: the old connector wrote an unparsable
    // line; an empty object parses to an event without entities.
    line += "{}";
  } else if (nlohmann::json::accept(body.begin(), body.end())) {
    line += OneLine(body);
  } else {
    // Not JSON (custom text/XML): kept as a JSON string.
    line += JsonString(body);
  }
  line += "}\n";
  return line;
}

bool SetNonBlocking(int fd) {
  const int flags = fcntl(fd, F_GETFL, 0);
  return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

// A line sink per listener: formats once per record, then fans the line out
// to that listener's clients.
class ListenerSink : public EventSink {
 public:
  ListenerSink(LineServer* server, size_t index, int port)
      : server_(server), index_(index), name_(absl::StrCat("line-", port)) {}
  void Offer(const std::shared_ptr<const LogRecord>& record) override {
    server_->Enqueue(index_, record);
  }
  void OnHubClosed() override {}  // LineServer::Shutdown() closes clients
  std::string consumer_name() const override { return name_; }
  // Per-client lag is in LineServer::client_stats().
  uint64_t lag(uint64_t) const override { return 0; }
  uint64_t dropped_count() const override { return 0; }

 private:
  LineServer* const server_;
  const size_t index_;
  const std::string name_;
};

}  // namespace

bool LineFormatNeedsRequest(absl::string_view format) {
  return format == "fpc" || format == "body";
}

std::string FormatLine(absl::string_view format, const LogRecord& record) {
  if (record.request != nullptr) {
    if (format == "fpc") return FpcLine(record);
    if (format == "body") return OneLine(record.request->body) + "\n";
  }
  return record.event_json_line();
}

std::shared_ptr<const std::string> SharedLine(
    absl::string_view format, const std::shared_ptr<const LogRecord>& record) {
  if (record->request != nullptr && LineFormatNeedsRequest(format)) {
    return std::make_shared<const std::string>(FormatLine(format, *record));
  }
  return std::shared_ptr<const std::string>(record,
                                            &record->event_json_line());
}

LineServer::LineServer(const Options& options, EventHub* hub,
                       common::MetricsRegistry* metrics)
    : options_(options),
      hub_(hub),
      metrics_(metrics),
      listener_clients_(new std::atomic<int>[options.listeners.size()]) {
  for (size_t i = 0; i < options.listeners.size(); ++i) {
    listener_clients_[i].store(0, std::memory_order_relaxed);
  }
  lines_sent_ = &metrics_->GetCounter("ngsi_receiver_line_lines_sent_total",
                                      "Lines written to line clients.");
  bytes_sent_ = &metrics_->GetCounter("ngsi_receiver_line_bytes_sent_total",
                                      "Bytes written to line clients.");
  disconnects_slow_ = &metrics_->GetCounter(
      "ngsi_receiver_consumer_disconnects_total",
      "Consumers ended by the receiver or gone.",
      {{"kind", "line"}, {"reason", "buffer_full"}});
  disconnects_ = &metrics_->GetCounter(
      "ngsi_receiver_consumer_disconnects_total",
      "Consumers ended by the receiver or gone.",
      {{"kind", "line"}, {"reason", "closed"}});
  refused_ = &metrics_->GetCounter(
      "ngsi_receiver_line_connections_refused_total",
      "Line client connections closed at once: source not in "
      "--line_allow_cidrs.");
}

LineServer::~LineServer() { Shutdown(); }

absl::Status LineServer::Start() {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    return absl::InternalError(absl::StrCat("eventfd: ", strerror(errno)));
  }
  for (const LineListenerConfig& listener : options_.listeners) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
    }
    listen_fds_.push_back(fd);
    const int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(listener.port));
    if (inet_pton(AF_INET, options_.host.c_str(), &address.sin_addr) != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("line listener host is not an IPv4 address: '",
                       options_.host, "'"));
    }
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        listen(fd, 128) != 0 || !SetNonBlocking(fd)) {
      return absl::UnavailableError(
          absl::StrCat("cannot bind line port ", options_.host, ":",
                       listener.port, ": ", strerror(errno)));
    }
    socklen_t length = sizeof(address);
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    ports_.push_back(ntohs(address.sin_port));
  }
  for (size_t i = 0; i < options_.listeners.size(); ++i) {
    auto sink = std::make_shared<ListenerSink>(this, i, ports_[i]);
    if (absl::Status status = hub_->Attach(sink); !status.ok()) return status;
    sinks_.push_back(std::move(sink));
  }
  thread_ = std::thread([this] { Run(); });
  started_ = true;
  return absl::OkStatus();
}

void LineServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  for (const auto& sink : sinks_) hub_->Detach(sink.get());
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  Wake();
  if (thread_.joinable()) thread_.join();
  absl::MutexLock lock(&mu_);
  for (auto& [id, client] : clients_) close(client->fd);
  clients_.clear();
  for (int fd : listen_fds_) close(fd);
  listen_fds_.clear();
  if (wake_fd_ >= 0) close(wake_fd_);
  wake_fd_ = -1;
}

void LineServer::Wake() {
  const uint64_t one = 1;
  // EAGAIN means a wake-up is already pending: enough.
  [[maybe_unused]] ssize_t ignored = write(wake_fd_, &one, sizeof(one));
}

void LineServer::Enqueue(size_t index,
                         const std::shared_ptr<const LogRecord>& record) {
  if (listener_clients_[index].load(std::memory_order_relaxed) == 0) return;
  // Formatted outside the lock (event-json: once per record, whatever the
  // listeners), shared by the listener's clients.
  const std::shared_ptr<const std::string> line =
      SharedLine(options_.listeners[index].format, record);
  bool wake = false;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, client] : clients_) {
      if (client->listener != index || client->overflowed) continue;
      if (client->queued_bytes + line->size() > options_.client_buffer_bytes) {
        // No silent gap: a client that cannot take this line is ended.
        client->overflowed = true;
        wake = true;
        continue;
      }
      wake = wake || client->pending.empty();
      client->pending.push_back(line);
      client->queued_bytes += line->size();
      ++client->queued_lines;
    }
  }
  if (wake) Wake();
}

void LineServer::Run() {
  std::vector<pollfd> fds;
  std::vector<int> ids;  // parallel to the client part of `fds`
  for (;;) {
    fds.clear();
    ids.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    for (int fd : listen_fds_) fds.push_back({fd, POLLIN, 0});
    std::vector<int> overflowed;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      for (auto& [id, client] : clients_) {
        if (client->overflowed) {
          overflowed.push_back(id);
          continue;
        }
        const bool has_output =
            !client->pending.empty() || !client->sending.empty();
        fds.push_back(
            {client->fd, static_cast<short>(POLLIN | (has_output ? POLLOUT : 0)),
             0});
        ids.push_back(id);
      }
    }
    for (int id : overflowed) CloseClient(id, "buffer_full");
    if (!overflowed.empty()) continue;  // rebuild without them

    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      common::LogError("line server poll failed",
                       {{"error", std::string(strerror(errno))}});
      return;
    }
    if (fds[0].revents & POLLIN) {
      uint64_t count;
      [[maybe_unused]] ssize_t ignored = read(wake_fd_, &count, sizeof(count));
    }
    for (size_t i = 0; i < listen_fds_.size(); ++i) {
      if (fds[1 + i].revents & POLLIN) Accept(i);
    }
    const size_t first_client = 1 + listen_fds_.size();
    for (size_t i = 0; i < ids.size(); ++i) {
      const short revents = fds[first_client + i].revents;
      if (revents == 0) continue;
      Client* client = nullptr;
      {
        absl::MutexLock lock(&mu_);
        client = clients_.at(ids[i]).get();  // only this thread erases
      }
      bool alive = true;
      if (revents & (POLLIN | POLLHUP | POLLERR)) {
        // Clients have nothing to say; read to notice when they leave.
        char scratch[4096];
        const ssize_t n = recv(client->fd, scratch, sizeof(scratch), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
                       errno != EINTR)) {
          alive = false;
        }
      }
      if (alive && (revents & POLLOUT)) alive = Flush(*client);
      if (!alive) CloseClient(ids[i], "closed");
    }
  }
}

void LineServer::Accept(size_t listener) {
  for (;;) {
    sockaddr_in peer{};
    socklen_t length = sizeof(peer);
    const int fd = accept4(listen_fds_[listener],
                           reinterpret_cast<sockaddr*>(&peer), &length,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN: accepted everything pending
    char host[INET_ADDRSTRLEN] = "";
    inet_ntop(AF_INET, &peer.sin_addr, host, sizeof(host));
    if (!allowed_sources_.Allows(host)) {
      refused_->Increment();  // before the close the client sees
      close(fd);
      ++refusals_unlogged_;
      const absl::Time now = absl::Now();
      if (now >= next_refusal_log_) {
        next_refusal_log_ = now + absl::Minutes(1);
        common::LogWarning("line clients refused: source not allowed",
                           {{"refused", refusals_unlogged_},
                            {"last_source", std::string(host)},
                            {"port", int64_t{ports_[listener]}}});
        refusals_unlogged_ = 0;
      }
      continue;
    }
    const int yes = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
    auto client = std::make_unique<Client>();
    client->fd = fd;
    client->listener = listener;
    std::string name;
    {
      absl::MutexLock lock(&mu_);
      const int id = next_client_id_++;
      name = absl::StrCat("line-", ports_[listener], "-", id);
      client->name = name;
      clients_[id] = std::move(client);
    }
    // Counted after the client is in the map: from here on Enqueue()
    // formats for it.
    listener_clients_[listener].fetch_add(1, std::memory_order_relaxed);
    common::LogInfo("line client connected",
                    {{"consumer", name},
                     {"peer", absl::StrCat(host, ":", ntohs(peer.sin_port))},
                     {"format", options_.listeners[listener].format}});
  }
}

bool LineServer::Flush(Client& client) {
  if (client.sending.empty()) {
    absl::MutexLock lock(&mu_);
    client.sending.swap(client.pending);
  }
  size_t written_total = 0;
  size_t lines_done = 0;
  while (!client.sending.empty()) {
    iovec iov[64];
    int count = 0;
    for (auto it = client.sending.begin();
         it != client.sending.end() && count < 64; ++it, ++count) {
      const size_t skip = count == 0 ? client.offset : 0;
      iov[count].iov_base = const_cast<char*>((*it)->data() + skip);
      iov[count].iov_len = (*it)->size() - skip;
    }
    msghdr message{};
    message.msg_iov = iov;
    message.msg_iovlen = count;
    const ssize_t n = sendmsg(client.fd, &message, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
      return false;
    }
    written_total += n;
    size_t left = n;
    while (left > 0) {
      const size_t remaining = client.sending.front()->size() - client.offset;
      if (left >= remaining) {
        left -= remaining;
        client.sending.pop_front();
        client.offset = 0;
        ++lines_done;
      } else {
        client.offset += left;
        left = 0;
      }
    }
    if (client.sending.empty()) {
      absl::MutexLock lock(&mu_);
      client.sending.swap(client.pending);
      client.queued_bytes -= std::min(client.queued_bytes, written_total);
      client.queued_lines -= std::min(client.queued_lines, lines_done);
      bytes_sent_->Increment(written_total);
      lines_sent_->Increment(lines_done);
      written_total = lines_done = 0;
    }
  }
  if (written_total > 0 || lines_done > 0) {
    absl::MutexLock lock(&mu_);
    client.queued_bytes -= std::min(client.queued_bytes, written_total);
    client.queued_lines -= std::min(client.queued_lines, lines_done);
  }
  bytes_sent_->Increment(written_total);
  lines_sent_->Increment(lines_done);
  return true;
}

void LineServer::CloseClient(int id, const char* reason) {
  std::unique_ptr<Client> client;
  {
    absl::MutexLock lock(&mu_);
    auto it = clients_.find(id);
    if (it == clients_.end()) return;
    client = std::move(it->second);
    clients_.erase(it);
  }
  listener_clients_[client->listener].fetch_sub(1, std::memory_order_relaxed);
  close(client->fd);
  if (client->overflowed) {
    disconnects_slow_->Increment();
    common::LogWarning(
        "line client disconnected: it stopped reading and its buffer is "
        "full",
        {{"consumer", client->name},
         {"queued_bytes", static_cast<int64_t>(client->queued_bytes)},
         {"limit_bytes",
          static_cast<int64_t>(options_.client_buffer_bytes)}});
  } else {
    disconnects_->Increment();
    common::LogInfo("line client disconnected",
                    {{"consumer", client->name}, {"reason", reason}});
  }
}

size_t LineServer::client_count() const {
  absl::MutexLock lock(&mu_);
  return clients_.size();
}

uint64_t LineServer::disconnected_slow_count() const {
  return static_cast<uint64_t>(disconnects_slow_->value());
}

std::vector<LineClientStats> LineServer::client_stats() const {
  absl::MutexLock lock(&mu_);
  std::vector<LineClientStats> stats;
  for (const auto& [id, client] : clients_) {
    stats.push_back({client->name, client->queued_bytes, client->queued_lines});
  }
  return stats;
}

}  // namespace ngsi_bridge::receiver
