// Tenants: name, branding and default preferences.
#pragma once

#include "herald/v1/herald.pb.h"
#include "services/api/backend.h"

namespace herald::api {

// Thread-safe.
class TenantHandlers : public HandlerGroup {
 public:
  using HandlerGroup::HandlerGroup;

  void IdentifyTenant(const v1::IdentifyTenantRequest& request, v1::Tenant* response, Finish finish) const;
  void GetTenant(const v1::TenantRequest& request, v1::Tenant* response, Finish finish) const;
  void DeleteTenant(const v1::TenantRequest& request, v1::DeleteTenantResponse* response, Finish finish) const;

};

}  // namespace herald::api
