#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ngsi_bridge::common {

// Who a gRPC caller is and what it may touch: the tenants (Fiware-Service
// values; "" is the default tenant) it may read events of or write to, the
// brokers it may write to, and its rights. "*" in a list grants every
// value. Plain value type.
struct Principal {
  std::string name;
  std::vector<std::string> tenants;
  std::vector<std::string> brokers;
  bool can_read = false;
  bool can_write = false;

  bool AllowsAllTenants() const;
  bool AllowsTenant(absl::string_view tenant) const;
  bool AllowsBroker(absl::string_view broker) const;

  // kPermissionDenied naming the principal and the tenant when it may not
  // read `tenant`'s events.
  absl::Status CheckRead(absl::string_view tenant) const;
  // kPermissionDenied naming the principal and the broker or tenant when it
  // may not write `tenant` on `broker`.
  absl::Status CheckWrite(absl::string_view broker,
                          absl::string_view tenant) const;
};

// Fills can_read / can_write from rights names ("read", "write"; for JWT
// scopes also "ngsi:read", "ngsi:write"). kInvalidArgument naming an unknown
// right.
absl::Status ApplyRights(const std::vector<std::string>& rights,
                         Principal& principal);

}  // namespace ngsi_bridge::common
