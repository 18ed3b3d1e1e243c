#include "common/source_networks.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ngsi_bridge::common {
namespace {

// An IPv4 or IPv6 address as 16 bytes (IPv4 mapped to ::ffff:a.b.c.d).
std::optional<std::array<unsigned char, 16>> ParseAddress(
    absl::string_view text) {
  const std::string address(absl::StripAsciiWhitespace(text));
  std::array<unsigned char, 16> out{};
  in_addr v4;
  if (inet_pton(AF_INET, address.c_str(), &v4) == 1) {
    out[10] = 0xff;
    out[11] = 0xff;
    std::memcpy(out.data() + 12, &v4, 4);
    return out;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, address.c_str(), &v6) == 1) {
    std::memcpy(out.data(), &v6, 16);
    return out;
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<Cidr> Cidr::Parse(absl::string_view text) {
  const absl::string_view trimmed = absl::StripAsciiWhitespace(text);
  const size_t slash = trimmed.find('/');
  const absl::string_view host = trimmed.substr(0, slash);
  std::optional<std::array<unsigned char, 16>> address = ParseAddress(host);
  if (!address) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not an IP address or CIDR"));
  }
  const bool v4 = host.find(':') == absl::string_view::npos;
  Cidr cidr;
  cidr.address = *address;
  cidr.prefix_bits = 128;
  if (slash != absl::string_view::npos) {
    int bits = -1;
    if (!absl::SimpleAtoi(trimmed.substr(slash + 1), &bits) || bits < 0 ||
        bits > (v4 ? 32 : 128)) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", text, "' has a bad prefix length"));
    }
    cidr.prefix_bits = v4 ? 96 + bits : bits;
  }
  return cidr;
}

bool Cidr::Contains(absl::string_view text) const {
  std::optional<std::array<unsigned char, 16>> address = ParseAddress(text);
  if (!address) return false;
  int bits = prefix_bits;
  for (size_t i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    const unsigned char mask =
        bits >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - bits));
    if (((*address)[i] & mask) != (this->address[i] & mask)) return false;
  }
  return true;
}

absl::StatusOr<SourceNetworks> SourceNetworks::Parse(
    const std::vector<std::string>& cidrs, absl::string_view flag) {
  SourceNetworks networks;
  for (const std::string& text : cidrs) {
    absl::StatusOr<Cidr> cidr = Cidr::Parse(text);
    if (!cidr.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag, ": ", cidr.status().message()));
    }
    networks.networks_.push_back(*cidr);
  }
  return networks;
}

bool SourceNetworks::Allows(absl::string_view address) const {
  return networks_.empty() ||
         std::any_of(networks_.begin(), networks_.end(),
                     [address](const Cidr& cidr) {
                       return cidr.Contains(address);
                     });
}

}  // namespace ngsi_bridge::common
