#include "receiver-service/notify_guard.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace ngsi_bridge::receiver {
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

absl::StatusOr<std::unique_ptr<NotifyGuard>> NotifyGuard::Create(
    const Options& options) {
  if (options.secret_header.empty() != options.secret_file.empty()) {
    return absl::InvalidArgumentError(
        "--notify_secret_header and --notify_secret_file go together");
  }
  std::unique_ptr<NotifyGuard> guard(new NotifyGuard(options));
  for (const std::string& text : options.allow_cidrs) {
    absl::StatusOr<Cidr> cidr = Cidr::Parse(text);
    if (!cidr.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--notify_allow_cidrs: ", cidr.status().message()));
    }
    guard->networks_.push_back(*cidr);
  }
  if (absl::Status status = guard->Reload(); !status.ok()) return status;
  return guard;
}

absl::Status NotifyGuard::Reload() {
  if (options_.secret_file.empty()) return absl::OkStatus();
  std::ifstream in(options_.secret_file, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read --notify_secret_file ", options_.secret_file));
  }
  std::stringstream text;
  text << in.rdbuf();
  std::string secret = text.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) {
    secret.pop_back();
  }
  if (secret.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--notify_secret_file ", options_.secret_file, " is empty"));
  }
  absl::MutexLock lock(&mu_);
  secret_ = std::move(secret);
  return absl::OkStatus();
}

std::optional<HttpAnswer> NotifyGuard::Admit(
    absl::string_view remote_addr, NotificationRequest& request) const {
  if (!networks_.empty() &&
      std::none_of(networks_.begin(), networks_.end(),
                   [remote_addr](const Cidr& cidr) {
                     return cidr.Contains(remote_addr);
                   })) {
    return ErrorAnswer(403, "Forbidden",
                       absl::StrCat("source address ", remote_addr,
                                    " is not allowed (--notify_allow_cidrs)"));
  }
  if (options_.secret_header.empty()) return std::nullopt;
  bool matched = false;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, value] : request.headers) {
      if (!absl::EqualsIgnoreCase(name, options_.secret_header)) continue;
      // CRYPTO_memcmp's time depends only on the length compared, which is
      // the configured secret's.
      matched = value.size() == secret_.size() &&
                CRYPTO_memcmp(value.data(), secret_.data(), secret_.size()) ==
                    0;
      break;
    }
  }
  if (!matched) {
    return ErrorAnswer(401, "Unauthorized",
                       absl::StrCat("missing or wrong ",
                                    options_.secret_header, " header"));
  }
  request.headers.erase(
      std::remove_if(request.headers.begin(), request.headers.end(),
                     [this](const auto& header) {
                       return absl::EqualsIgnoreCase(header.first,
                                                     options_.secret_header);
                     }),
      request.headers.end());
  return std::nullopt;
}

}  // namespace ngsi_bridge::receiver
