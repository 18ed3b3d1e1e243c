#include "common/source_networks.h"

#include "gtest/gtest.h"

namespace ngsi_bridge::common {
namespace {

TEST(CidrTest, ParsesAndMatchesIpv4AndIpv6) {
  auto net = Cidr::Parse("10.1.0.0/16");
  ASSERT_TRUE(net.ok());
  EXPECT_TRUE(net->Contains("10.1.200.3"));
  EXPECT_FALSE(net->Contains("10.2.0.1"));
  EXPECT_TRUE(net->Contains("::ffff:10.1.0.9"));  // v4-mapped peers
  auto host = Cidr::Parse("127.0.0.1");
  ASSERT_TRUE(host.ok());
  EXPECT_TRUE(host->Contains("127.0.0.1"));
  EXPECT_FALSE(host->Contains("127.0.0.2"));
  auto v6 = Cidr::Parse("fd00::/8");
  ASSERT_TRUE(v6.ok());
  EXPECT_TRUE(v6->Contains("fd12::1"));
  EXPECT_FALSE(v6->Contains("fe80::1"));
  EXPECT_FALSE(v6->Contains("not an address"));
  EXPECT_TRUE(Cidr::Parse("0.0.0.0/0")->Contains("8.8.8.8"));
  for (const char* bad : {"10.0.0.0/33", "10.0.0/8", "x", "::/129", "1.2.3.4/-1",
                          ""}) {
    EXPECT_FALSE(Cidr::Parse(bad).ok()) << bad;
  }
}

TEST(SourceNetworksTest, EmptyAllowsEverySource) {
  auto networks = SourceNetworks::Parse({}, "line_allow_cidrs");
  ASSERT_TRUE(networks.ok());
  EXPECT_TRUE(networks->empty());
  EXPECT_TRUE(networks->Allows("203.0.113.9"));
}

TEST(SourceNetworksTest, AllowsOnlyTheListedNetworks) {
  auto networks = SourceNetworks::Parse({"10.0.0.0/8", " ::1"}, "x_cidrs");
  ASSERT_TRUE(networks.ok());
  EXPECT_TRUE(networks->Allows("10.9.8.7"));
  EXPECT_TRUE(networks->Allows("::ffff:10.9.8.7"));
  EXPECT_TRUE(networks->Allows("::1"));
  EXPECT_FALSE(networks->Allows("127.0.0.1"));
  EXPECT_FALSE(networks->Allows("unknown"));
}

TEST(SourceNetworksTest, ABadEntryNamesTheFlagAndTheEntry) {
  auto networks =
      SourceNetworks::Parse({"10.0.0.0/8", "10.0.0.0/33"}, "line_allow_cidrs");
  ASSERT_FALSE(networks.ok());
  EXPECT_EQ(networks.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(networks.status().message().find("--line_allow_cidrs"),
            std::string::npos);
  EXPECT_NE(networks.status().message().find("10.0.0.0/33"),
            std::string::npos);
}

}  // namespace
}  // namespace ngsi_bridge::common
