#include "tests/testing/fake_broker.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/http_server_setup.h"
#include "common/status_macros.h"
#include "httplib.h"

namespace ngsi_bridge::testing {

absl::StatusOr<std::unique_ptr<FakeBroker>> FakeBroker::Start(
    Handler handler) {
  std::unique_ptr<FakeBroker> broker(new FakeBroker(std::move(handler)));
  const int port = broker->http_->bind_to_any_port("127.0.0.1");
  if (port <= 0) return absl::UnavailableError("fake broker cannot bind");
  broker->port_ = port;
  NB_RETURN_IF_ERROR(common::ServeOnThread(*broker->http_, broker->thread_));
  return broker;
}

FakeBroker::FakeBroker(Handler handler)
    : handler_(std::move(handler)), http_(std::make_unique<httplib::Server>()) {
  const auto serve = [this](const httplib::Request& in,
                            httplib::Response& out) {
    Request request;
    request.method = in.method;
    request.path = in.path;
    request.body = in.body;
    const size_t question = in.target.find('?');
    if (question != std::string::npos) {
      request.query = in.target.substr(question + 1);
    }
    for (const auto& [name, value] : in.headers) {
      request.headers[absl::AsciiStrToLower(name)] = value;
    }
    {
      absl::MutexLock lock(&mu_);
      requests_.push_back(request);
    }
    const Answer answer = handler_(request);
    out.status = answer.status;
    if (!answer.body.empty()) out.set_content(answer.body, "application/json");
  };
  http_->Get(".*", serve);
  http_->Post(".*", serve);
  http_->Put(".*", serve);
  http_->Patch(".*", serve);
  http_->Delete(".*", serve);
}

FakeBroker::~FakeBroker() { Stop(); }

void FakeBroker::Stop() {
  if (!thread_.joinable()) return;
  http_->stop();
  thread_.join();
}

std::string FakeBroker::url() const {
  return absl::StrCat("http://127.0.0.1:", port_);
}

std::vector<FakeBroker::Request> FakeBroker::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

}  // namespace ngsi_bridge::testing
