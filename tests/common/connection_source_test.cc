// What the per-source connection cap counts by (common::SourceOf).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <string>

#include "common/connection_gate.h"
#include "gtest/gtest.h"

namespace ngsi_bridge::common {
namespace {

sockaddr_storage V4(const char* text) {
  sockaddr_storage storage{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  v4->sin_family = AF_INET;
  EXPECT_EQ(inet_pton(AF_INET, text, &v4->sin_addr), 1) << text;
  return storage;
}

sockaddr_storage V6(const char* text) {
  sockaddr_storage storage{};
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  v6->sin6_family = AF_INET6;
  EXPECT_EQ(inet_pton(AF_INET6, text, &v6->sin6_addr), 1) << text;
  return storage;
}

TEST(ConnectionSourceTest, Ipv4CountsPerAddressMappedOrNot) {
  EXPECT_EQ(SourceOf(V4("10.1.2.3")), "10.1.2.3");
  EXPECT_EQ(SourceOf(V6("::ffff:10.1.2.3")), "10.1.2.3");
  EXPECT_NE(SourceOf(V4("10.1.2.4")), SourceOf(V4("10.1.2.3")));
}

TEST(ConnectionSourceTest, Ipv6CountsPerSlash64) {
  // One host's /64: every address in it is one source.
  EXPECT_EQ(SourceOf(V6("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
            "2001:db8:1:2::/64");
  EXPECT_EQ(SourceOf(V6("2001:db8:1:2::1")), "2001:db8:1:2::/64");
  // The next /64 is another source.
  EXPECT_EQ(SourceOf(V6("2001:db8:1:3::1")), "2001:db8:1:3::/64");
  EXPECT_EQ(SourceOf(V6("::1")), "::/64");
}

TEST(ConnectionSourceTest, OtherFamiliesAreUnknown) {
  sockaddr_storage unix_peer{};
  unix_peer.ss_family = AF_UNIX;
  EXPECT_EQ(SourceOf(unix_peer), "unknown");
  EXPECT_EQ(PeerAddress(-1), "unknown");  // no socket, no peer
}

}  // namespace
}  // namespace ngsi_bridge::common
