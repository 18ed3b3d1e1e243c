#include "common/auth_policy.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ngsi_bridge::common {
namespace {

bool Grants(const std::vector<std::string>& granted, absl::string_view value) {
  return std::any_of(granted.begin(), granted.end(),
                     [value](const std::string& g) {
                       return g == "*" || g == value;
                     });
}

// Tenants are shown as '' when empty, so that the default tenant is visible.
std::string Quoted(absl::string_view value) {
  return absl::StrCat("'", value, "'");
}

}  // namespace

bool Principal::AllowsAllTenants() const {
  return std::find(tenants.begin(), tenants.end(), "*") != tenants.end();
}

bool Principal::AllowsTenant(absl::string_view tenant) const {
  return Grants(tenants, tenant);
}

bool Principal::AllowsBroker(absl::string_view broker) const {
  return Grants(brokers, broker);
}

absl::Status Principal::CheckRead(absl::string_view tenant) const {
  if (!can_read) {
    return absl::PermissionDeniedError(
        absl::StrCat("principal ", Quoted(name), " has no read right"));
  }
  if (!AllowsTenant(tenant)) {
    return absl::PermissionDeniedError(
        absl::StrCat("principal ", Quoted(name), " may not read tenant ",
                     Quoted(tenant)));
  }
  return absl::OkStatus();
}

absl::Status Principal::CheckWrite(absl::string_view broker,
                                   absl::string_view tenant) const {
  if (!can_write) {
    return absl::PermissionDeniedError(
        absl::StrCat("principal ", Quoted(name), " has no write right"));
  }
  if (!AllowsBroker(broker)) {
    return absl::PermissionDeniedError(
        absl::StrCat("principal ", Quoted(name), " may not write to broker ",
                     Quoted(broker)));
  }
  if (!AllowsTenant(tenant)) {
    return absl::PermissionDeniedError(
        absl::StrCat("principal ", Quoted(name), " may not write tenant ",
                     Quoted(tenant)));
  }
  return absl::OkStatus();
}

absl::Status ApplyRights(const std::vector<std::string>& rights,
                         Principal& principal) {
  for (const std::string& right : rights) {
    if (right == "read" || right == "ngsi:read") {
      principal.can_read = true;
    } else if (right == "write" || right == "ngsi:write") {
      principal.can_write = true;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown right '", right, "' (use read, write)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace ngsi_bridge::common
