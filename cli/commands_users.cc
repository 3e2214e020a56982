// heraldctl identify, user [delete|merge] and channel-data: user profiles and
// their per-channel data (push tokens, chat connections).
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "cli/cli.h"

ABSL_FLAG(std::string, email, "", "email address");
ABSL_FLAG(std::string, phone, "", "phone number");

namespace herald::cli {
namespace {

void PrintUser(const v1::User& user, std::ostream& out) {
  out << user.id() << (user.name().empty() ? "" : absl::StrCat("  ", user.name()))
      << (user.email().empty() ? "" : absl::StrCat("  <", user.email(), ">")) << "\n";
  if (!user.properties_json().empty()) out << "  properties: " << user.properties_json() << "\n";
  out << "  created " << FormatTime(user.created_at_ms()) << ", updated " << FormatTime(user.updated_at_ms()) << "\n";
}

Outcome Identify(Cli& cli, Args args) {
  v1::IdentifyUserRequest request;
  v1::InlineUser* user = request.mutable_user();
  user->set_id(args[0]);
  user->set_name(absl::GetFlag(FLAGS_name));
  user->set_email(absl::GetFlag(FLAGS_email));
  user->set_phone_number(absl::GetFlag(FLAGS_phone));
  user->set_properties_json(absl::GetFlag(FLAGS_properties));
  return cli.CallAndPrint(&v1::Herald::Stub::IdentifyUser, request, PrintUser);
}

Outcome GetUser(Cli& cli, Args args) {
  v1::GetUserRequest request;
  request.set_id(args[0]);
  return cli.CallAndPrint(&v1::Herald::Stub::GetUser, request, PrintUser);
}

Outcome DeleteUser(Cli& cli, Args args) {
  v1::DeleteUserRequest request;
  request.set_id(args[0]);
  auto text = [&](const v1::DeleteUserResponse& response, std::ostream& out) {
    out << "deleted user " << args[0] << " (" << response.deleted_keys() << " keys)\n";
  };
  return cli.CallAndPrint(&v1::Herald::Stub::DeleteUser, request, text);
}

Outcome MergeUsers(Cli& cli, Args args) {
  v1::MergeUsersRequest request;
  request.set_user_id(args[0]);
  request.set_from_user_id(args[1]);
  auto text = [&](const v1::User& user, std::ostream& out) {
    out << "merged " << args[1] << " into:\n";
    PrintUser(user, out);
  };
  return cli.CallAndPrint(&v1::Herald::Stub::MergeUsers, request, text);
}

v1::ChannelDataRequest ChannelDataRequest(Args args) {
  v1::ChannelDataRequest request;
  request.set_user_id(args[0]);
  request.set_channel(args[1]);
  return request;
}

Outcome SetChannelData(Cli& cli, Args args) {
  v1::SetChannelDataRequest request;
  request.set_user_id(args[0]);
  request.set_channel(args[1]);
  request.set_data_json(args[2]);
  return cli.CallAndPrint(&v1::Herald::Stub::SetChannelData, request);
}

Outcome GetChannelData(Cli& cli, Args args) {
  return cli.CallAndPrint(&v1::Herald::Stub::GetChannelData, ChannelDataRequest(args));
}

Outcome UnsetChannelData(Cli& cli, Args args) {
  auto text = [](const v1::UnsetChannelDataResponse& response, std::ostream& out) {
    out << (response.existed() ? "removed" : "there was none") << "\n";
  };
  return cli.CallAndPrint(&v1::Herald::Stub::UnsetChannelData, ChannelDataRequest(args), text);
}

}  // namespace

CommandGroup UserCommands() {
  return {"Users",
          {
              {"identify", "", "USER", "create or update a user",
               {"--name=NAME", "--email=EMAIL", "--phone=PHONE", "--properties=JSON"}, Identify},
              {"user", "", "USER", "show a user", {}, GetUser},
              {"user", "delete", "USER", "delete a user and all their data", {}, DeleteUser},
              {"user", "merge", "USER FROM_USER", "fold FROM_USER into USER, then delete FROM_USER", {}, MergeUsers},
              {"channel-data", "set", "USER CHANNEL JSON", R"(set a user's data for CHANNEL, e.g. '{"tokens": [...]}')",
               {}, SetChannelData},
              {"channel-data", "get", "USER CHANNEL", "show a user's data for CHANNEL", {}, GetChannelData},
              {"channel-data", "unset", "USER CHANNEL", "remove a user's data for CHANNEL", {}, UnsetChannelData},
          }};
}

}  // namespace herald::cli
