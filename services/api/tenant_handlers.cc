#include "services/api/tenant_handlers.h"

#include "absl/strings/str_cat.h"
#include "tenants/tenant_store.h"
#include "users/user_store.h"

namespace herald::api {

void TenantHandlers::IdentifyTenant(const v1::IdentifyTenantRequest& request, v1::Tenant* response,
                                    Finish finish) const {
  auto command = tenants::IdentifyCommand(request, backend_.partitions(), backend_.clock().NowMillis());
  if (!command.ok()) return std::move(finish)(command.status());
  backend_.Run({std::move(*command)}, ReplyWith(tenants::TenantFromReply, request.id(), response),
               std::move(finish));
}

void TenantHandlers::GetTenant(const v1::TenantRequest& request, v1::Tenant* response, Finish finish) const {
  absl::Status valid = users::ValidateId(request.id(), "id");
  if (!valid.ok()) return std::move(finish)(valid);
  backend_.Run({tenants::GetCommand(request.id(), backend_.partitions())},
               ReplyWith(tenants::TenantFromReply, request.id(), response),
               std::move(finish));
}

void TenantHandlers::DeleteTenant(const v1::TenantRequest& request, v1::DeleteTenantResponse* response,
                                  Finish finish) const {
  absl::Status valid = users::ValidateId(request.id(), "id");
  if (!valid.ok()) return std::move(finish)(valid);
  backend_.Run({tenants::DeleteCommand(request.id(), backend_.partitions())},
               [&request](const Backend::Results& results) {
                 if (results[0]->integer == 0) {
                   return absl::NotFoundError(absl::StrCat("id: tenant '", request.id(), "' not found"));
                 }
                 return absl::OkStatus();
               },
               std::move(finish));
}

}  // namespace herald::api
