#pragma once

#include <atomic>
#include <string>
#include <thread>

// Brokers that fail at the transport level, for retry tests: one that
// refuses connections and one that takes a request and never answers.
namespace ngsi_bridge::testing {

// A port on 127.0.0.1 where nothing listens: connections are refused.
int RefusingPort();

// Accepts connections, reads the request and closes without answering:
// the request was sent, the answer is lost.
class HangUpServer {
 public:
  HangUpServer();
  ~HangUpServer();
  HangUpServer(const HangUpServer&) = delete;
  HangUpServer& operator=(const HangUpServer&) = delete;

  std::string url() const;
  int accepted() const { return accepted_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

}  // namespace ngsi_bridge::testing
