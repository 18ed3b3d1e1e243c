#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace httplib {
class Server;
}

namespace ngsi_bridge::testing {

// An in-process HTTP "broker" for replier integration tests: serves any
// method and path on 127.0.0.1 (port 0), records every request and answers
// through the test's handler. Owned by the test. Thread-safe.
class FakeBroker {
 public:
  struct Request {
    std::string method, path, query, body;
    std::map<std::string, std::string> headers;  // names lower-cased
  };
  struct Answer {
    int status = 204;
    std::string body;  // sent as application/json when not empty
  };
  using Handler = std::function<Answer(const Request&)>;

  // Binds and serves on a thread of its own; kUnavailable if it cannot bind.
  static absl::StatusOr<std::unique_ptr<FakeBroker>> Start(Handler handler);
  ~FakeBroker();

  std::string url() const;
  std::vector<Request> requests() const;
  // Stops serving and joins. Idempotent.
  void Stop();

 private:
  explicit FakeBroker(Handler handler);

  const Handler handler_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int port_ = 0;
  mutable absl::Mutex mu_;
  std::vector<Request> requests_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ngsi_bridge::testing
