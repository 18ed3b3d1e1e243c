#include "tests/testing/unreliable_brokers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ngsi_bridge::testing {
namespace {

sockaddr_in Loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  return address;
}

// A TCP socket bound to an ephemeral loopback port; its port in `port`.
int BoundSocket(int* port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = Loopback(0);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)),
            0);
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  *port = ntohs(address.sin_port);
  return fd;
}

}  // namespace

int RefusingPort() {
  int port = 0;
  close(BoundSocket(&port));
  return port;
}

HangUpServer::HangUpServer() {
  fd_ = BoundSocket(&port_);
  EXPECT_EQ(listen(fd_, 8), 0);
  thread_ = std::thread([this] {
    for (;;) {
      const int client = accept(fd_, nullptr, nullptr);
      if (client < 0 || stopping_) {
        if (client >= 0) close(client);
        return;
      }
      char buffer[4096];
      (void)!read(client, buffer, sizeof(buffer));
      ++accepted_;
      close(client);
    }
  });
}

HangUpServer::~HangUpServer() {
  stopping_ = true;
  // Wake accept() with one last connection, then close.
  const int wake = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = Loopback(port_);
  (void)!connect(wake, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  close(wake);
  thread_.join();
  close(fd_);
}

std::string HangUpServer::url() const {
  return absl::StrCat("http://127.0.0.1:", port_);
}

}  // namespace ngsi_bridge::testing
