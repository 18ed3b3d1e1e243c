#include "common/admin_server.h"

#include <openssl/crypto.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/http_server_setup.h"
#include "common/log.h"
#include "common/token_file.h"
#include "httplib.h"

namespace ngsi_bridge::common {
namespace {

void Reply(const AdminResponse& response, httplib::Response& out) {
  out.status = response.status;
  out.set_content(response.body, response.content_type.c_str());
}

}  // namespace

absl::StatusOr<std::unique_ptr<AdminServer>> AdminServer::Create(
    std::string host, int port, const MetricsRegistry* metrics,
    std::function<bool()> ready) {
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("admin port out of range: ", port));
  }
  return std::unique_ptr<AdminServer>(
      new AdminServer(std::move(host), port, metrics, std::move(ready)));
}

AdminServer::AdminServer(std::string host, int port,
                         const MetricsRegistry* metrics,
                         std::function<bool()> ready)
    : host_(std::move(host)),
      port_(port),
      metrics_(metrics),
      ready_(std::move(ready)),
      http_(std::make_unique<httplib::Server>()) {
  http_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    Reply({200, "text/plain; charset=utf-8", "ok\n"}, res);
  });
  http_->Get("/readyz",
             [this](const httplib::Request&, httplib::Response& res) {
               const bool ready = ready_ ? ready_() : true;
               Reply({ready ? 200 : 503, "text/plain; charset=utf-8",
                      ready ? "ready\n" : "not ready\n"},
                     res);
             });
  http_->Get("/metrics",
             [this](const httplib::Request&, httplib::Response& res) {
               Reply({200, "text/plain; version=0.0.4; charset=utf-8",
                      metrics_ ? metrics_->Render() : ""},
                     res);
             });
}

AdminServer::~AdminServer() { Shutdown(); }

absl::Status AdminServer::RequireToken(const std::string& token_file) {
  token_file_ = token_file;
  if (absl::Status status = LoadToken(); !status.ok()) return status;
  // Probes stay open: the kubelet sends no token.
  http_->set_pre_routing_handler(
      [this](const httplib::Request& req, httplib::Response& res) {
        if (req.path == "/healthz" || req.path == "/readyz" ||
            Authorized(req.get_header_value("Authorization"))) {
          return httplib::Server::HandlerResponse::Unhandled;
        }
        res.set_header("WWW-Authenticate", "Bearer");
        Reply({401, "text/plain; charset=utf-8",
               "missing or wrong bearer token (--admin_token_file)\n"},
              res);
        return httplib::Server::HandlerResponse::Handled;
      });
  return absl::OkStatus();
}

void AdminServer::ReloadToken() {
  if (token_file_.empty()) return;
  if (absl::Status status = LoadToken(); !status.ok()) {
    LogWarning("admin token not reloaded; keeping the previous one",
               {{"error", std::string(status.message())}});
  }
}

absl::Status AdminServer::LoadToken() {
  absl::StatusOr<std::string> token =
      ReadSecretFile(token_file_, "admin_token_file");
  if (!token.ok()) return token.status();
  absl::MutexLock lock(&mu_);
  token_sha256_ = Sha256Hex(*token);
  return absl::OkStatus();
}

bool AdminServer::Authorized(absl::string_view authorization) const {
  constexpr absl::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size() ||
      !absl::StartsWithIgnoreCase(authorization, kBearer)) {
    return false;
  }
  // Digests have one length whatever the token, so CRYPTO_memcmp's time
  // says nothing about how much of it matched.
  const std::string presented =
      Sha256Hex(authorization.substr(kBearer.size()));
  absl::MutexLock lock(&mu_);
  return presented.size() == token_sha256_.size() &&
         CRYPTO_memcmp(presented.data(), token_sha256_.data(),
                       presented.size()) == 0;
}

void AdminServer::AddEndpoint(absl::string_view path,
                              std::function<AdminResponse()> handler) {
  http_->Get(std::string(path),
             [handler = std::move(handler)](const httplib::Request&,
                                            httplib::Response& res) {
               Reply(handler(), res);
             });
}

absl::Status AdminServer::Start() {
  HttpServerTuning tuning;
  tuning.worker_threads = 2;  // probes and scrapes only
  auto bound = BindHttpServer(*http_, host_, port_, tuning);
  if (!bound.ok()) return bound.status();
  port_ = *bound;
  return ServeOnThread(*http_, thread_);
}

void AdminServer::Shutdown() {
  http_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace ngsi_bridge::common
