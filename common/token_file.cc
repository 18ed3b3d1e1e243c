#include "common/token_file.h"

#include <openssl/sha.h>

#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace ngsi_bridge::common {
namespace {

absl::StatusOr<std::vector<std::string>> StringList(
    const nlohmann::json& entry, const char* key, absl::string_view where) {
  std::vector<std::string> values;
  const auto it = entry.find(key);
  if (it == entry.end()) return values;
  if (!it->is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": \"", key, "\" is not an array of strings"));
  }
  for (const nlohmann::json& value : *it) {
    if (!value.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": \"", key, "\" is not an array of strings"));
    }
    values.push_back(value.get<std::string>());
  }
  return values;
}

}  // namespace

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         digest);
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(digest), sizeof(digest)));
}

absl::StatusOr<std::string> ReadSecretFile(const std::string& path,
                                           absl::string_view flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read --", flag, " ", path));
  }
  std::stringstream text;
  text << in.rdbuf();
  std::string secret = text.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) {
    secret.pop_back();
  }
  if (secret.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " ", path, " is empty"));
  }
  return secret;
}

absl::StatusOr<TokenTable> TokenTable::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read token file ", path));
  }
  std::stringstream text;
  text << in.rdbuf();
  return Parse(text.str(), path);
}

absl::StatusOr<TokenTable> TokenTable::Parse(absl::string_view text,
                                             absl::string_view origin) {
  const nlohmann::json doc = nlohmann::json::parse(
      text.begin(), text.end(), /*cb=*/nullptr, /*allow_exceptions=*/false);
  const auto principals = doc.find("principals");  // end() for bad JSON
  if (principals == doc.end() || !principals->is_array()) {
    // No parser message: it could quote a token.
    return absl::InvalidArgumentError(absl::StrCat(
        "token file ", origin, " is not JSON with a \"principals\" array"));
  }
  TokenTable table;
  for (size_t i = 0; i < principals->size(); ++i) {
    const nlohmann::json& entry = (*principals)[i];
    const std::string where = absl::StrCat("token file ", origin,
                                           " principals[", i, "]");
    if (!entry.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(where, " is not an object"));
    }
    Principal principal;
    const auto name = entry.find("name");
    if (name == entry.end() || !name->is_string() ||
        name->get<std::string>().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where, " has no name"));
    }
    principal.name = name->get<std::string>();
    std::string digest;
    const auto token = entry.find("token");
    const auto hashed = entry.find("token_sha256");
    if (token != entry.end() && token->is_string() &&
        !token->get<std::string>().empty()) {
      digest = Sha256Hex(token->get<std::string>());
    } else if (hashed != entry.end() && hashed->is_string() &&
               hashed->get<std::string>().size() == 64) {
      digest = absl::AsciiStrToLower(hashed->get<std::string>());
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          where, " (", principal.name,
          ") needs a non-empty \"token\" or a 64-hex-digit \"token_sha256\""));
    }
    auto tenants = StringList(entry, "tenants", where);
    if (!tenants.ok()) return tenants.status();
    principal.tenants = *std::move(tenants);
    auto brokers = StringList(entry, "brokers", where);
    if (!brokers.ok()) return brokers.status();
    principal.brokers = *std::move(brokers);
    auto rights = StringList(entry, "rights", where);
    if (!rights.ok()) return rights.status();
    if (absl::Status status = ApplyRights(*rights, principal); !status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": ", status.message()));
    }
    if (!table.by_digest_.emplace(digest, std::move(principal)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, " repeats the token of an earlier entry"));
    }
  }
  return table;
}

std::optional<Principal> TokenTable::Find(absl::string_view token) const {
  const auto it = by_digest_.find(Sha256Hex(token));
  if (it == by_digest_.end()) return std::nullopt;
  return it->second;
}

}  // namespace ngsi_bridge::common
