#include "replier-service/orion_client.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "httplib.h"

namespace ngsi_bridge::replier {
namespace {

bool RetryableStatus(int status) { return status == 429 || status >= 500; }

std::chrono::microseconds ToChrono(absl::Duration duration) {
  return std::chrono::microseconds(
      std::max<int64_t>(1000, absl::ToInt64Microseconds(duration)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<OrionClient>> OrionClient::Create(
    const BrokerConfig& broker, const RetryConfig& retry,
    common::MetricsRegistry* metrics) {
  // Split "http://host:port/prefix" into the origin httplib connects to and
  // the path prefix every call goes under.
  const size_t scheme_end = broker.url.find("://");
  if (scheme_end == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("broker '", broker.name, "' URL has no scheme"));
  }
  const size_t path_start = broker.url.find('/', scheme_end + 3);
  std::string origin = broker.url.substr(0, path_start);
  std::string base_path =
      path_start == std::string::npos ? "" : broker.url.substr(path_start);
  if (origin.size() <= scheme_end + 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("broker '", broker.name, "' URL has no host"));
  }
  std::unique_ptr<OrionClient> client(new OrionClient(
      broker, retry, std::move(origin), std::move(base_path), metrics));
  if (!broker.oauth2_token_url.empty()) {
    auto source = BrokerTokenSource::Create(broker);
    if (!source.ok()) return source.status();
    client->token_source_ = *std::move(source);
  }
  return client;
}

OrionClient::OrionClient(const BrokerConfig& broker, const RetryConfig& retry,
                         std::string origin, std::string base_path,
                         common::MetricsRegistry* metrics)
    : broker_(broker),
      retry_(retry),
      origin_(std::move(origin)),
      base_path_(std::move(base_path)),
      metrics_(metrics),
      in_flight_(metrics->GetGauge("ngsi_replier_broker_calls_in_flight",
                                   "HTTP calls to the broker now running.",
                                   {{"broker", broker.name}})),
      pool_in_use_(metrics->GetGauge(
          "ngsi_replier_pool_connections_in_use",
          "Pooled broker connections lent to a call.",
          {{"broker", broker.name}})),
      pool_open_(metrics->GetGauge(
          "ngsi_replier_pool_connections",
          "Broker connections in the pool (idle and in use).",
          {{"broker", broker.name}})),
      latency_(metrics->GetHistogram(
          "ngsi_replier_broker_call_seconds",
          "Latency of one HTTP attempt to the broker.",
          {{"broker", broker.name}})),
      retry_tokens_(retry.budget_tokens),
      random_(std::random_device{}()) {
  metrics->GetGauge("ngsi_replier_pool_max_connections",
                    "Configured pool bound per broker.",
                    {{"broker", broker.name}})
      .Set(broker.max_connections);
}

OrionClient::~OrionClient() { Shutdown(); }

void OrionClient::Shutdown() {
  if (!shutdown_.HasBeenNotified()) shutdown_.Notify();
  absl::MutexLock lock(&mu_);  // wakes Acquire() waiters
}

std::unique_ptr<httplib::Client> OrionClient::Acquire(absl::Time deadline) {
  const auto free_or_shut = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return in_use_ < broker_.max_connections || shutdown_.HasBeenNotified();
  };
  absl::MutexLock lock(&mu_);
  // Shutdown() takes mu_ after notifying, so a waiter re-evaluates; the
  // deadline bounds the wait either way.
  if (!mu_.AwaitWithDeadline(absl::Condition(&free_or_shut), deadline) ||
      shutdown_.HasBeenNotified()) {
    return nullptr;
  }
  ++in_use_;
  pool_in_use_.Set(in_use_);
  if (!idle_.empty()) {
    std::unique_ptr<httplib::Client> client = std::move(idle_.back());
    idle_.pop_back();
    return client;
  }
  auto client = std::make_unique<httplib::Client>(origin_);
  client->set_keep_alive(true);
  // httplib writes headers and body separately; with Nagle on, the body
  // waits for the broker's delayed ACK (~40 ms per call, measured in bench/).
  client->set_tcp_nodelay(true);
  // https:// only: verify the broker's certificate and host name.
  if (!broker_.ca_file.empty()) client->set_ca_cert_path(broker_.ca_file);
  client->enable_server_certificate_verification(!broker_.insecure);
  pool_open_.Add(1);
  return client;
}

void OrionClient::Release(std::unique_ptr<httplib::Client> client,
                          bool reusable) {
  absl::MutexLock lock(&mu_);
  --in_use_;
  pool_in_use_.Set(in_use_);
  if (reusable) {
    idle_.push_back(std::move(client));
  } else {
    pool_open_.Add(-1);  // a failed connection is not worth keeping
  }
}

bool OrionClient::TakeRetryToken() {
  absl::MutexLock lock(&mu_);
  if (retry_tokens_ < 1) return false;
  retry_tokens_ -= 1;
  return true;
}

void OrionClient::EarnRetryToken() {
  absl::MutexLock lock(&mu_);
  retry_tokens_ =
      std::min(retry_.budget_tokens, retry_tokens_ + retry_.budget_refill);
}

absl::Duration OrionClient::Backoff(int attempt) {
  const double cap = std::min<double>(
      retry_.max_backoff_ms,
      retry_.initial_backoff_ms * static_cast<double>(1 << std::min(attempt, 20)));
  absl::MutexLock lock(&mu_);
  // "Equal jitter": half fixed so retries back off, half random so the
  // clients a broker outage synchronised spread out again.
  std::uniform_real_distribution<double> jitter(cap / 2, cap);
  return absl::Milliseconds(jitter(random_));
}

absl::StatusOr<HttpAnswer> OrionClient::Send(const HttpCall& call,
                                             absl::Time deadline) {
  httplib::Request request;
  request.method = call.method;
  request.path = base_path_ + call.path;
  if (!call.query.empty()) request.path += "?" + call.query;
  for (const auto& [name, value] : call.headers) {
    request.headers.emplace(name, value);
  }
  if (!broker_.token.empty()) {
    request.headers.emplace("X-Auth-Token", broker_.token);
  }
  if (!broker_.authorization.empty()) {
    request.headers.emplace("Authorization", broker_.authorization);
  }
  if (!call.content_type.empty()) {
    request.headers.emplace("Content-Type", call.content_type);
    request.body = call.body;
  }
  request.headers.emplace("Accept", "application/json");
  std::string access_token;  // OAuth2
  bool token_refreshed = false;
  if (token_source_ != nullptr) {
    absl::StatusOr<std::string> token = token_source_->Token(deadline);
    if (!token.ok()) return token.status();
    access_token = *std::move(token);
    request.headers.emplace("X-Auth-Token", access_token);
  }

  bool maybe_applied = false;
  absl::Status last_error = absl::UnavailableError("not sent");
  std::optional<HttpAnswer> last_answer;
  for (int attempt = 1;; ++attempt) {
    if (shutdown_.HasBeenNotified()) {
      return absl::UnavailableError("replier is shutting down");
    }
    const absl::Duration remaining = deadline - absl::Now();
    if (remaining <= absl::ZeroDuration()) {
      if (last_answer.has_value()) return *last_answer;
      if (attempt == 1) {
        return absl::DeadlineExceededError("deadline passed before sending");
      }
      return last_error;
    }
    std::unique_ptr<httplib::Client> client = Acquire(deadline);
    if (client == nullptr) {
      if (shutdown_.HasBeenNotified()) {
        return absl::UnavailableError("replier is shutting down");
      }
      return absl::DeadlineExceededError(absl::StrCat(
          "deadline passed waiting for one of the ", broker_.max_connections,
          " connections to broker '", broker_.name, "'"));
    }
    const absl::Duration timeout =
        std::min(remaining, absl::Milliseconds(broker_.timeout_ms));
    client->set_connection_timeout(ToChrono(timeout));
    client->set_read_timeout(ToChrono(timeout));
    client->set_write_timeout(ToChrono(timeout));

    in_flight_.Add(1);
    const absl::Time started = absl::Now();
    httplib::Result result = client->send(request);
    latency_.Observe(absl::ToDoubleSeconds(absl::Now() - started));
    in_flight_.Add(-1);

    std::string reason;
    absl::Duration retry_after = absl::ZeroDuration();
    if (result) {
      metrics_
          ->GetCounter("ngsi_replier_broker_calls_total",
                       "HTTP attempts to brokers by answer.",
                       {{"broker", broker_.name},
                        {"status", absl::StrCat(result->status)}})
          .Increment();
      Release(std::move(client), /*reusable=*/true);
      HttpAnswer answer;
      answer.status = result->status;
      for (const auto& [name, value] : result->headers) {
        answer.headers.emplace_back(name, value);
      }
      answer.body = std::move(result->body);
      answer.attempts = attempt;
      answer.earlier_attempt_may_have_applied = maybe_applied;
      if (answer.status == 401 && token_source_ != nullptr &&
          !token_refreshed) {
        // The cached token was revoked or expired early: one fresh token,
        // one more try, outside the retry budget.
        token_refreshed = true;
        token_source_->Invalidate(access_token);
        absl::StatusOr<std::string> token = token_source_->Token(deadline);
        if (!token.ok()) return token.status();
        access_token = *std::move(token);
        request.headers.erase("X-Auth-Token");
        request.headers.emplace("X-Auth-Token", access_token);
        continue;
      }
      if (!RetryableStatus(answer.status)) {
        if (attempt == 1) EarnRetryToken();
        return answer;
      }
      // The broker got it and may have acted on it before failing.
      if (!call.retry_after_sent) return answer;
      reason = absl::StrCat(answer.status);
      int seconds = 0;
      if (absl::SimpleAtoi(result->get_header_value("Retry-After"), &seconds) &&
          seconds > 0) {
        retry_after = absl::Seconds(seconds);
      }
      last_answer = std::move(answer);
    } else {
      const httplib::Error error = result.error();
      metrics_
          ->GetCounter("ngsi_replier_broker_calls_total",
                       "HTTP attempts to brokers by answer.",
                       {{"broker", broker_.name},
                        {"status", absl::AsciiStrToLower(
                                       httplib::to_string(error))}})
          .Increment();
      Release(std::move(client), /*reusable=*/false);
      reason = absl::AsciiStrToLower(httplib::to_string(error));
      const bool timed_out = error == httplib::Error::Read &&
                             absl::Now() - started >= timeout;
      // A read failure happens after the request went out: the broker may
      // have applied it.
      if (error == httplib::Error::Read || error == httplib::Error::Unknown) {
        maybe_applied = true;
      }
      const std::string what = absl::StrCat(
          "broker '", broker_.name, "' ",
          timed_out ? "did not answer in time" : "unreachable", " (",
          httplib::to_string(error), ") after ", attempt, " attempt",
          attempt == 1 ? "" : "s");
      last_error = timed_out || error == httplib::Error::ConnectionTimeout
                       ? absl::DeadlineExceededError(what)
                       : absl::UnavailableError(what);
      last_answer.reset();
      // Only a connection never made is certain to have sent nothing.
      const bool nothing_sent = error == httplib::Error::Connection ||
                                error == httplib::Error::ConnectionTimeout ||
                                error == httplib::Error::SSLConnection;
      if (!call.retry_after_sent && !nothing_sent) break;
    }
    if (attempt >= retry_.max_attempts) break;
    const absl::Duration pause = std::max(Backoff(attempt - 1), retry_after);
    // No point sleeping past the deadline: the caller wants an answer by
    // then, and the last failure is the most honest one.
    if (absl::Now() + pause >= deadline) break;
    if (!TakeRetryToken()) break;
    metrics_
        ->GetCounter("ngsi_replier_retries_total",
                     "Broker calls retried, by the failure that caused it.",
                     {{"broker", broker_.name}, {"reason", reason}})
        .Increment();
    if (shutdown_.WaitForNotificationWithTimeout(pause)) {
      return absl::UnavailableError("replier is shutting down");
    }
  }
  if (last_answer.has_value()) return *last_answer;
  return last_error;
}

}  // namespace ngsi_bridge::replier
