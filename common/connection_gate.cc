#include "common/connection_gate.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace ngsi_bridge::common {
namespace {

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

std::string SourceOf(const sockaddr_storage& peer) {
  char text[INET6_ADDRSTRLEN] = "";
  if (peer.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&peer);
    inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
  } else if (peer.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&peer);
    if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
      inet_ntop(AF_INET, &v6->sin6_addr.s6_addr[12], text, sizeof(text));
    } else {
      in6_addr prefix = v6->sin6_addr;
      std::memset(&prefix.s6_addr[8], 0, 8);  // the interface identifier
      inet_ntop(AF_INET6, &prefix, text, sizeof(text));
      return absl::StrCat(text, "/64");
    }
  }
  return text[0] == '\0' ? "unknown" : text;
}

std::string PeerAddress(int sock) {
  sockaddr_storage peer{};
  socklen_t length = sizeof(peer);
  if (getpeername(sock, reinterpret_cast<sockaddr*>(&peer), &length) != 0) {
    return "unknown";
  }
  return SourceOf(peer);
}

ConnectionGate::ConnectionGate(const Options& options,
                               MetricsRegistry* metrics)
    : options_(options), limiter_(options.limits) {
  if (metrics == nullptr) return;
  const std::string refused =
      absl::StrCat(options_.metric_prefix, "_connections_refused_total");
  const char* help =
      "Connections closed at once for passing a connection cap, by cap.";
  refused_source_ = &metrics->GetCounter(refused, help, {{"reason", "source"}});
  refused_total_ = &metrics->GetCounter(refused, help, {{"reason", "total"}});
  open_ = &metrics->GetGauge(
      absl::StrCat(options_.metric_prefix, "_connections_open"),
      "Connections open (admitted, not yet closed).");
}

bool ConnectionGate::Admit(int sock, std::string& source) {
  source = PeerAddress(sock);
  const ConnectionLimiter::Verdict verdict = limiter_.Acquire(source);
  if (verdict != ConnectionLimiter::Verdict::kAdmitted) {
    Refuse(sock, verdict, source);
    return false;
  }
  if (open_ != nullptr) open_->Add(1);
  return true;
}

void ConnectionGate::Release(const std::string& source) {
  limiter_.Release(source);
  if (open_ != nullptr) open_->Add(-1);
}

uint64_t ConnectionGate::refused_count() const {
  absl::MutexLock lock(&mu_);
  return refused_;
}

void ConnectionGate::Refuse(int sock, ConnectionLimiter::Verdict verdict,
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
