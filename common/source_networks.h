#pragma once

#include <array>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ngsi_bridge::common {

// One source network ("10.0.0.0/8", "::1/128", "192.168.1.7").
struct Cidr {
  std::array<unsigned char, 16> address{};  // IPv4 as ::ffff:a.b.c.d
  int prefix_bits = 0;                       // of the 128

  // kInvalidArgument naming `text` when it is no address[/prefix].
  static absl::StatusOr<Cidr> Parse(absl::string_view text);
  bool Contains(absl::string_view address) const;
};

// The source networks a listener accepts connections from (the
// --*_allow_cidrs flags); empty allows every source. Plain value type.
class SourceNetworks {
 public:
  SourceNetworks() = default;

  // kInvalidArgument naming `flag` and the bad entry.
  static absl::StatusOr<SourceNetworks> Parse(
      const std::vector<std::string>& cidrs, absl::string_view flag);

  // Whether `address` (IPv4, IPv6 or IPv4-mapped IPv6 text) is in one of
  // the networks; always true when there are none, never for a text that
  // is no address.
  bool Allows(absl::string_view address) const;
  bool empty() const { return networks_.empty(); }

 private:
  std::vector<Cidr> networks_;
};

}  // namespace ngsi_bridge::common
