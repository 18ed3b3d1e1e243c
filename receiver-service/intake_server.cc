#include "receiver-service/intake_server.h"

#include <optional>
#include <regex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "httplib.h"

namespace ngsi_bridge::receiver {
namespace {

constexpr char kAllow[] = "POST, PUT, PATCH, DELETE";

bool IsPseudoHeader(const std::string& name) {
  // cpp-httplib stores the connection's addresses among the headers.
  return name == "REMOTE_ADDR" || name == "REMOTE_PORT" ||
         name == "LOCAL_ADDR" || name == "LOCAL_PORT";
}

NotificationRequest ToNotification(const httplib::Request& req) {
  NotificationRequest request;
  request.method = req.method;
  // The raw target, not httplib's decoded path: custom notifications carry
  // data in the query string, kept exactly as sent.
  const size_t question = req.target.find('?');
  request.path = req.target.substr(0, question);
  if (question != std::string::npos) {
    request.query = req.target.substr(question + 1);
  }
  request.headers.reserve(req.headers.size());
  for (const auto& [name, value] : req.headers) {
    if (!IsPseudoHeader(name)) request.headers.emplace_back(name, value);
  }
  request.body = req.body;
  return request;
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

absl::Status IntakeServer::Start() {
  if (tls_ != nullptr) {
    auto https = common::MakeHttpsServer(tls_);
    if (!https.ok()) return https.status();
    http_ = *std::move(https);
  }
  httplib::Server& http = *http_;
  http.set_payload_max_length(options_.max_body_bytes);
  const std::string pattern = PathPattern(options_.path);
  auto notify = [this](const httplib::Request& req, httplib::Response& res) {
    NotificationRequest request = ToNotification(req);
    if (guard_ != nullptr) {
      if (std::optional<HttpAnswer> denied = guard_->Admit(
              req.get_header_value("REMOTE_ADDR"), request)) {
        handler_->CountRejected(denied->status);
        Write(*denied, res);
        return;
      }
    }
    Write(handler_->Handle(std::move(request)), res);
  };
  http.Post(pattern, notify);
  http.Put(pattern, notify);
  http.Patch(pattern, notify);
  http.Delete(pattern, notify);
  auto not_allowed = [this](const httplib::Request& req,
                            httplib::Response& res) {
    handler_->CountRejected(405);
    HttpAnswer answer = ErrorAnswer(
        405, "MethodNotAllowed",
        absl::StrCat("method ", req.method, " not allowed; use ", kAllow));
    answer.headers.emplace_back("Allow", kAllow);
    Write(answer, res);
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
          answer = ErrorAnswer(
              413, "RequestEntityTooLarge",
              absl::StrCat("body larger than the limit of ", max_body,
                           " bytes (--max_body_bytes)"));
        } else if (res.status == 404) {
          answer = ErrorAnswer(404, "NotFound",
                               absl::StrCat("no notification endpoint at ",
                                            req.path));
        } else if (res.status == 400 && req.method != "POST" &&
                   req.method != "PUT" && req.method != "PATCH" &&
                   req.method != "DELETE") {
          handler_->CountRejected(405);
          answer = ErrorAnswer(
              405, "MethodNotAllowed",
              absl::StrCat("method ", req.method, " not allowed; use ", kAllow));
          answer.headers.emplace_back("Allow", kAllow);
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
}

}  // namespace ngsi_bridge::receiver
