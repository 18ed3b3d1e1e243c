#include "replier-service/write_access.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"

namespace ngsi_bridge::replier {

std::string WriteAccess::DefaultTenant(const std::string& broker) const {
  for (const BrokerConfig& config : config_->brokers) {
    if (config.name == broker) return config.service;
  }
  return "";
}

absl::Status WriteAccess::AuthorizeWrite(
    const grpc::ServerContextBase& context,
    const v1::WriteRequest& request) const {
  if (auth_ == nullptr) return absl::OkStatus();
  absl::StatusOr<common::Principal> principal = auth_->Authenticate(context);
  if (!principal.ok()) return principal.status();
  const std::string tenant = request.service().empty()
                                 ? DefaultTenant(request.broker())
                                 : request.service();
  return principal->CheckWrite(request.broker(), tenant);
}

absl::Status WriteAccess::AuthorizePassthrough(
    const grpc::ServerContextBase& context,
    const v1::PassthroughRequest& request) const {
  if (auth_ == nullptr) return absl::OkStatus();
  absl::StatusOr<common::Principal> principal = auth_->Authenticate(context);
  if (!principal.ok()) return principal.status();
  std::vector<std::string> tenants;
  for (const auto& [name, value] : request.headers()) {
    if (absl::EqualsIgnoreCase(name, "Fiware-Service") ||
        absl::EqualsIgnoreCase(name, "NGSILD-Tenant")) {
      tenants.push_back(value);
    }
  }
  if (tenants.empty()) tenants.push_back(DefaultTenant(request.broker()));
  for (const std::string& tenant : tenants) {
    if (absl::Status status = principal->CheckWrite(request.broker(), tenant);
        !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

absl::Status WriteAccess::AuthorizeList(
    const grpc::ServerContextBase& context) const {
  if (auth_ == nullptr) return absl::OkStatus();
  return auth_->Authenticate(context).status();
}

}  // namespace ngsi_bridge::replier
