// heraldctl preferences get|set and explain: user and tenant preference sets,
// and why a workflow would be sent or suppressed for a user.
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "cli/cli.h"

ABSL_FLAG(std::string, user, "", "user id");

namespace herald::cli {
namespace {

// A request with the scope (user, tenant) of the preferences it is about.
template <typename Request>
Request ScopedRequest() {
  Request request;
  request.set_user_id(absl::GetFlag(FLAGS_user));
  request.set_tenant(absl::GetFlag(FLAGS_tenant));
  return request;
}

void PrintPreferences(const v1::Preferences& response, std::ostream& out) {
  std::string user = absl::GetFlag(FLAGS_user), tenant = absl::GetFlag(FLAGS_tenant);
  std::string scope = user.empty()
                          ? absl::StrCat("tenant ", tenant, " (default)")
                          : absl::StrCat("user ", user, tenant.empty() ? "" : absl::StrCat(" in tenant ", tenant));
  out << scope << ": " << response.preferences_json() << "\n";
}

Outcome Get(Cli& cli, Args args) {
  auto request = ScopedRequest<v1::GetPreferencesRequest>();
  return cli.CallAndPrint(&v1::Herald::Stub::GetPreferences, request, PrintPreferences);
}

Outcome Set(Cli& cli, Args args) {
  auto request = ScopedRequest<v1::SetPreferencesRequest>();
  request.set_preferences_json(args[0]);
  return cli.CallAndPrint(&v1::Herald::Stub::SetPreferences, request, PrintPreferences);
}

void PrintExplanation(const v1::ExplainPreferencesResponse& response, std::ostream& out) {
  out << (response.send() ? "SEND" : "SUPPRESS") << "  (" << response.reason() << ")";
  if (!response.decided_by().empty()) out << "  decided by " << response.decided_by();
  if (!response.bypassed().empty()) out << "  bypassing " << response.bypassed();
  out << "\n";
  for (const auto& rule : response.chain()) {
    out << "  " << (rule.allows() ? "allows  " : "opts out") << "  " << rule.level() << ":" << rule.setting();
    if (!rule.note().empty()) out << "  (" << rule.note() << ")";
    out << "\n";
  }
  for (const auto& rule : response.overridden()) {
    out << "  overridden  " << rule.level() << ":" << rule.setting() << " = " << (rule.allows() ? "on" : "off") << "\n";
  }
  if (response.chain_size() == 0) out << "  no preference applies\n";
}

Outcome Explain(Cli& cli, Args args) {
  auto request = ScopedRequest<v1::ExplainPreferencesRequest>();
  request.set_workflow(args[0]);
  std::string channel_type = absl::GetFlag(FLAGS_channel_type);
  request.set_channel_type(channel_type.empty() ? "in_app_feed" : channel_type);
  request.set_data_json(absl::GetFlag(FLAGS_data));
  return cli.CallAndPrint(&v1::Herald::Stub::ExplainPreferences, request, PrintExplanation);
}

}  // namespace

CommandGroup PreferenceCommands() {
  return {"Preferences",
          {
              {"preferences", "get", "", "show the preferences of --user, --tenant (its defaults) or both",
               {"--user=USER", "--tenant=TENANT"}, Get},
              {"preferences", "set", "JSON",
               "set them; JSON has channel_types, workflows and categories",
               {"--user=USER", "--tenant=TENANT"}, Set},
              {"explain", "", "WORKFLOW", "would WORKFLOW reach --user on --channel_type, and which setting decides",
               {"--user=USER", "--tenant=TENANT", "--channel_type=TYPE", "--data=JSON"}, Explain},
          }};
}

}  // namespace herald::cli
