// Tenants: name, branding and default preferences.
#pragma once

#include "herald/v1/herald.pb.h"
#include "services/api/backend.h"

namespace herald::api {

// Thread-safe.
class TenantHandlers {
 public:
  explicit TenantHandlers(const Backend& backend) : backend_(backend) {}

  void IdentifyTenant(const v1::IdentifyTenantRequest& request, v1::Tenant* response, Finish finish) const;
  void GetTenant(const v1::TenantRequest& request, v1::Tenant* response, Finish finish) const;
  void DeleteTenant(const v1::TenantRequest& request, v1::DeleteTenantResponse* response, Finish finish) const;

 private:
  const Backend& backend_;
};

}  // namespace herald::api
