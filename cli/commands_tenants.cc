// heraldctl tenant: tenants and their settings (branding, default
// preferences).
#include "absl/flags/flag.h"
#include "cli/cli.h"

ABSL_FLAG(std::string, settings, "", R"(settings, a JSON object: {"branding": {...}, "preference_set": {...}})");

namespace herald::cli {
namespace {

v1::TenantRequest TenantRequest(Args args) {
  v1::TenantRequest request;
  request.set_id(args[0]);
  return request;
}

Outcome Identify(Cli& cli, Args args) {
  v1::IdentifyTenantRequest request;
  request.set_id(args[0]);
  request.set_name(absl::GetFlag(FLAGS_name));
  request.set_settings_json(absl::GetFlag(FLAGS_settings));
  return cli.CallAndPrint(&v1::Herald::Stub::IdentifyTenant, request);
}

Outcome Get(Cli& cli, Args args) { return cli.CallAndPrint(&v1::Herald::Stub::GetTenant, TenantRequest(args)); }

Outcome Delete(Cli& cli, Args args) {
  auto text = [&](const v1::DeleteTenantResponse&, std::ostream& out) { out << "deleted tenant " << args[0] << "\n"; };
  return cli.CallAndPrint(&v1::Herald::Stub::DeleteTenant, TenantRequest(args), text);
}

}  // namespace

CommandGroup TenantCommands() {
  return {"Tenants",
          {
              {"tenant", "identify", "TENANT", "create or update a tenant", {"--name=NAME", "--settings=JSON"},
               Identify},
              {"tenant", "get", "TENANT", "show a tenant", {}, Get},
              {"tenant", "delete", "TENANT", "delete a tenant", {}, Delete},
          }};
}

}  // namespace herald::cli
