#include "receiver-service/intake_server.h"

#include <optional>
#include <regex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/event_loop_http_server.h"
#include "httplib.h"

namespace ngsi_bridge::receiver {
namespace {

constexpr char kAllow[] = "POST, PUT, PATCH, DELETE";

bool IsPseudoHeader(const std::string& name) {
  // cpp-httplib stores the connection's addresses among the headers.
  return name == "REMOTE_ADDR" || name == "REMOTE_PORT" ||
         name == "LOCAL_ADDR" || name == "LOCAL_PORT";
}

bool IsNotifyMethod(absl::string_view method) {
  return method == "POST" || method == "PUT" || method == "PATCH" ||
         method == "DELETE";
}

// The raw target, not a decoded path: custom notifications carry data in
// the query string, kept exactly as sent.
void SplitTarget(const std::string& target, NotificationRequest& request) {
  const size_t question = target.find('?');
  request.path = target.substr(0, question);
  if (question != std::string::npos) request.query = target.substr(question + 1);
}

NotificationRequest ToNotification(const httplib::Request& req) {
  NotificationRequest request;
  request.method = req.method;
  SplitTarget(req.target, request);
  request.headers.reserve(req.headers.size());
  for (const auto& [name, value] : req.headers) {
    if (!IsPseudoHeader(name)) request.headers.emplace_back(name, value);
  }
  request.body = req.body;
  return request;
}

NotificationRequest ToNotification(common::HttpRequest& req) {
  NotificationRequest request;
  request.method = std::move(req.method);
  SplitTarget(req.target, request);
  request.headers = std::move(req.headers);
  request.body = std::move(req.body);
  return request;
}

HttpAnswer MethodNotAllowed(absl::string_view method) {
  HttpAnswer answer = ErrorAnswer(
      405, "MethodNotAllowed",
      absl::StrCat("method ", method, " not allowed; use ", kAllow));
  answer.headers.emplace_back("Allow", kAllow);
  return answer;
}

HttpAnswer NotFound(absl::string_view path) {
  return ErrorAnswer(404, "NotFound",
                     absl::StrCat("no notification endpoint at ", path));
}

HttpAnswer TooLarge(size_t max_body) {
  return ErrorAnswer(413, "RequestEntityTooLarge",
                     absl::StrCat("body larger than the limit of ", max_body,
                                  " bytes (--max_body_bytes)"));
}

void Write(const HttpAnswer& answer, httplib::Response& res) {
  res.status = answer.status;
  for (const auto& [name, value] : answer.headers) res.set_header(name, value);
  if (answer.body.empty()) {
    // Orion-LD's native notifier wants Content-Length (or a 204).
    if (answer.status != 204) res.set_header("Content-Length", "0");
    return;
  }
  res.set_content(answer.body, answer.content_type.c_str());
}

std::string PathPattern(const std::string& path) {
  if (path.empty()) return ".*";
  static const std::regex kSpecial(R"([.^$|()\[\]{}*+?\\])");
  return std::regex_replace(path, kSpecial, R"(\$&)");
}

}  // namespace

IntakeServer::IntakeServer(const Options& options,
                           NotificationHandler* handler,
                           common::MetricsRegistry* metrics)
    : options_(options),
      handler_(handler),
      metrics_(metrics),
      http_(std::make_unique<httplib::Server>()) {}

IntakeServer::~IntakeServer() { Shutdown(); }

HttpAnswer IntakeServer::Notify(absl::string_view remote_addr,
                                NotificationRequest request) {
  if (guard_ != nullptr) {
    if (std::optional<HttpAnswer> denied = guard_->Admit(remote_addr, request)) {
      handler_->CountRejected(denied->status);
      return *std::move(denied);
    }
  }
  return handler_->Handle(std::move(request));
}

HttpAnswer IntakeServer::Route(common::HttpRequest& req) {
  if (!IsNotifyMethod(req.method)) {
    handler_->CountRejected(405);
    return MethodNotAllowed(req.method);
  }
  const std::string remote_addr = std::move(req.remote_addr);
  NotificationRequest request = ToNotification(req);
  if (!options_.path.empty() && request.path != options_.path) {
    return NotFound(request.path);
  }
  return Notify(remote_addr, std::move(request));
}

HttpAnswer IntakeServer::RouteError(int status, absl::string_view description) {
  switch (status) {
    case 413:
      handler_->CountRejected(413);
      return TooLarge(options_.max_body_bytes);
    case 408:
      return ErrorAnswer(408, "RequestTimeout", description);
    case 431:
      return ErrorAnswer(431, "RequestHeaderFieldsTooLarge", description);
    case 501:
      return ErrorAnswer(501, "NotImplemented", description);
    case 505:
      return ErrorAnswer(505, "HTTPVersionNotSupported", description);
    default:
      return ErrorAnswer(status, "BadRequest", description);
  }
}

absl::Status IntakeServer::StartEventLoop() {
  common::EventLoopHttpServer::Options options;
  options.loops = options_.loops;
  options.limits.max_body_bytes = options_.max_body_bytes;
  options.tuning = options_.tuning;  // worker_nice: the httplib engine's only
  options.gate.limits = options_.connection_limits;
  options.gate.metric_prefix = "ngsi_receiver_http";
  event_loop_ = std::make_unique<common::EventLoopHttpServer>(
      options, [this](common::HttpRequest& req) { return Route(req); },
      [this](int status, absl::string_view description) {
        return RouteError(status, description);
      },
      metrics_);
  auto bound = event_loop_->Start(options_.host, options_.port);
  if (!bound.ok()) return bound.status();
  port_ = *bound;
  return absl::OkStatus();
}

absl::Status IntakeServer::Start() {
  if (tls_ == nullptr && options_.engine == Engine::kEventLoop) {
    return StartEventLoop();
  }
  if (tls_ != nullptr) {
    auto https = common::MakeHttpsServer(tls_);
    if (!https.ok()) return https.status();
    http_ = *std::move(https);
  }
  httplib::Server& http = *http_;
  http.set_payload_max_length(options_.max_body_bytes);
  const std::string pattern = PathPattern(options_.path);
  auto notify = [this](const httplib::Request& req, httplib::Response& res) {
    Write(Notify(req.get_header_value("REMOTE_ADDR"), ToNotification(req)),
          res);
  };
  http.Post(pattern, notify);
  http.Put(pattern, notify);
  http.Patch(pattern, notify);
  http.Delete(pattern, notify);
  auto not_allowed = [this](const httplib::Request& req,
                            httplib::Response& res) {
    handler_->CountRejected(405);
    Write(MethodNotAllowed(req.method), res);
  };
  http.Get(".*", not_allowed);  // HEAD too
  http.Options(".*", not_allowed);

  // Answers httplib gives on its own (413 over the body limit, 404 off the
  // configured path, 400 for an unparsable request or unknown method) get
  // the same JSON body as ours, and Content-Length.
  const size_t max_body = options_.max_body_bytes;
  httplib::Server::HandlerWithResponse on_error =
      [this, max_body](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        HttpAnswer answer;
        if (res.status == 413) {
          handler_->CountRejected(413);
          answer = TooLarge(max_body);
        } else if (res.status == 404) {
          answer = NotFound(req.path);
        } else if (res.status == 400 && !IsNotifyMethod(req.method)) {
          handler_->CountRejected(405);
          answer = MethodNotAllowed(req.method);
        } else {
          answer = ErrorAnswer(res.status, "BadRequest",
                               absl::StrCat("HTTP error ", res.status));
        }
        Write(answer, res);
        return httplib::Server::HandlerResponse::Handled;
      };
  http.set_error_handler(std::move(on_error));

  common::LimitedHttpServer::Options front;
  front.limits = options_.connection_limits;
  front.answer_503 = tls_ == nullptr;  // no TLS handshake for a refusal
  front.metric_prefix = "ngsi_receiver_http";
  front_ = std::make_unique<common::LimitedHttpServer>(http_.get(), front,
                                                       metrics_);
  auto bound = front_->Start(options_.host, options_.port, options_.tuning);
  if (!bound.ok()) return bound.status();
  // "listening" means accepting: Start() returns once the loop runs.
  port_ = *bound;
  return absl::OkStatus();
}

void IntakeServer::Shutdown() {
  if (front_ != nullptr) front_->Shutdown();
  if (event_loop_ != nullptr) event_loop_->Shutdown();
}

}  // namespace ngsi_bridge::receiver
