// heraldctl: the command line for Herald's gRPC API. Human output by
// default, --json for scripts; exit code 0 on success, 1 on an RPC error,
// 2 on a usage error.
#include <optional>
#include <grpcpp/grpcpp.h>

#include <google/protobuf/util/json_util.h>

#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "herald/v1/herald.grpc.pb.h"
#include "workflow/parser.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:50051", "Herald gRPC address");
ABSL_FLAG(bool, json, false, "Print JSON instead of text");
ABSL_FLAG(int, timeout_ms, 10000, "Deadline of each call");
ABSL_FLAG(std::string, to, "", "trigger/cancel: recipient ids, comma-separated");
ABSL_FLAG(std::string, actor, "", "trigger: actor id");
ABSL_FLAG(std::string, data, "", "trigger: data, a JSON object");
ABSL_FLAG(std::string, tenant, "", "trigger: tenant id");
ABSL_FLAG(std::string, cancellation_key, "", "trigger/cancel: cancellation key");
ABSL_FLAG(std::string, idempotency_key, "", "trigger: idempotency key");
ABSL_FLAG(std::string, name, "", "identify: name");
ABSL_FLAG(std::string, email, "", "identify: email");
ABSL_FLAG(std::string, phone, "", "identify: phone number");
ABSL_FLAG(std::string, properties, "", "identify: custom properties, a JSON object");
ABSL_FLAG(std::string, status, "", "feed list: unread, unseen, read or archived");
ABSL_FLAG(int, page_size, 20, "feed list: items per page (1-100)");
ABSL_FLAG(std::string, after, "", "feed list: cursor from the previous page");
ABSL_FLAG(bool, all, false, "feed mark: every item of the user");
ABSL_FLAG(std::string, user, "", "preferences/explain: user id");
ABSL_FLAG(std::string, channel_type, "in_app_feed", "explain: channel type");
ABSL_FLAG(std::string, objects, "", "trigger: object recipients, comma-separated collection/id");
ABSL_FLAG(std::string, settings, "", "tenant identify: settings, a JSON object");

namespace {

constexpr char kUsage[] = R"(heraldctl [--addr HOST:PORT] [--json] COMMAND ...

  trigger WORKFLOW (--to u1,u2 | --objects projects/p1) [--actor A] [--data '{"k":"v"}'] [--tenant T]
                   [--cancellation_key K] [--idempotency_key K]
  cancel WORKFLOW --cancellation_key K [--to u1,u2]
  identify USER [--name N] [--email E] [--phone P] [--properties '{...}']
  user USER
  user delete USER
  user merge USER FROM_USER          (fold FROM_USER into USER, then delete it)
  channel-data set USER CHANNEL '{"tokens": [...]}' | get USER CHANNEL | unset USER CHANNEL
  object identify COLLECTION/ID [--name N] [--properties '{...}']
  object get|delete COLLECTION/ID
  object subscribe|unsubscribe COLLECTION/ID --to u1,u2
  object subscribers COLLECTION/ID [--page_size N] [--after CURSOR]
  fanout FANOUT_ID                   (progress of an object fan-out)
  tenant identify TENANT [--name N] [--settings '{"branding": {...}, "preference_set": {...}}']
  tenant get|delete TENANT
  message USER MESSAGE_ID
  feed list USER [--status unread|unseen|read|archived] [--page_size N] [--after CURSOR] [--tenant T]
  feed mark USER seen|unseen|read|unread|interacted|uninteracted|archived|unarchived (ID... | --all) [--tenant T]
  workflows list
  workflows get KEY
  workflows lint FILE...
  preferences get (--user U | --tenant T | both)
  preferences set (--user U | --tenant T | both) '{"channel_types": {...}, "workflows": {...}, "categories": {...}}'
  explain WORKFLOW --user U [--tenant T] [--channel_type in_app_feed] [--data '{...}'])";

int Usage(const std::string& problem) {
  std::cerr << "heraldctl: " << problem << "\n\n" << kUsage << std::endl;
  return 2;
}

std::string Json(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

class Cli {
 public:
  explicit Cli(const std::string& address)
      : stub_(herald::v1::Herald::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()))),
        address_(address) {}

  template <typename Request, typename Response, typename Method>
  bool Call(Method method, const Request& request, Response* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(absl::GetFlag(FLAGS_timeout_ms)));
    grpc::Status status = (stub_.get()->*method)(&context, request, response);
    if (!status.ok()) {
      std::cerr << "heraldctl: " << CodeName(status.error_code()) << ": " << status.error_message();
      if (status.error_code() == grpc::StatusCode::UNAVAILABLE) std::cerr << " (is Herald running at " << address_ << "?)";
      std::cerr << std::endl;
      return false;
    }
    return true;
  }

 private:
  static const char* CodeName(grpc::StatusCode code) {
    switch (code) {
      case grpc::StatusCode::INVALID_ARGUMENT: return "invalid argument";
      case grpc::StatusCode::NOT_FOUND: return "not found";
      case grpc::StatusCode::FAILED_PRECONDITION: return "failed precondition";
      case grpc::StatusCode::UNAVAILABLE: return "unavailable";
      case grpc::StatusCode::DEADLINE_EXCEEDED: return "deadline exceeded";
      default: return "error";
    }
  }
  std::unique_ptr<herald::v1::Herald::Stub> stub_;
  std::string address_;
};

std::vector<std::string> SplitList(const std::string& text) {
  return absl::StrSplit(text, ',', absl::SkipWhitespace());
}

std::optional<herald::v1::ObjectRef> ParseObjectRef(const std::string& text) {
  size_t slash = text.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == text.size()) return std::nullopt;
  herald::v1::ObjectRef ref;
  ref.set_collection(text.substr(0, slash));
  ref.set_id(text.substr(slash + 1));
  return ref;
}

std::string FormatTime(int64_t ms) {
  if (ms == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixMillis(ms), absl::LocalTimeZone());
}

void PrintUser(const herald::v1::User& user) {
  std::cout << user.id() << (user.name().empty() ? "" : absl::StrCat("  ", user.name()))
            << (user.email().empty() ? "" : absl::StrCat("  <", user.email(), ">")) << "\n";
  if (!user.properties_json().empty()) std::cout << "  properties: " << user.properties_json() << "\n";
  std::cout << "  created " << FormatTime(user.created_at_ms()) << ", updated " << FormatTime(user.updated_at_ms())
            << std::endl;
}

int Trigger(Cli& cli, const std::vector<std::string>& args, bool json) {
  if (args.size() != 1) return Usage("trigger needs exactly one WORKFLOW");
  herald::v1::TriggerRequest request;
  request.set_workflow(args[0]);
  for (const std::string& id : SplitList(absl::GetFlag(FLAGS_to))) request.add_recipients()->set_id(id);
  for (const std::string& ref : SplitList(absl::GetFlag(FLAGS_objects))) {
    auto object = ParseObjectRef(ref);
    if (!object) return Usage(absl::StrCat("--objects: '", ref, "' is not collection/id"));
    *request.add_recipients()->mutable_object() = *object;
  }
  if (request.recipients_size() == 0) return Usage("trigger needs --to or --objects");
  request.set_actor(absl::GetFlag(FLAGS_actor));
  request.set_data_json(absl::GetFlag(FLAGS_data));
  request.set_tenant(absl::GetFlag(FLAGS_tenant));
  request.set_cancellation_key(absl::GetFlag(FLAGS_cancellation_key));
  request.set_idempotency_key(absl::GetFlag(FLAGS_idempotency_key));
  herald::v1::TriggerResponse response;
  if (!cli.Call(&herald::v1::Herald::Stub::Trigger, request, &response)) return 1;
  if (json) {
    std::cout << Json(response) << std::endl;
    return 0;
  }
  std::cout << (response.duplicate() ? "already triggered (idempotency key seen); runs:" : "triggered; runs:") << "\n";
  for (const auto& run : response.runs()) std::cout << "  " << run.recipient() << "  " << run.workflow_run_id() << "\n";
  for (const auto& fanout : response.fanouts()) {
    std::cout << "  fan-out to subscribers of " << fanout.object().collection() << "/" << fanout.object().id() << "  "
              << fanout.fanout_id() << "  (heraldctl fanout " << fanout.fanout_id() << ")\n";
  }
  return 0;
}

int Cancel(Cli& cli, const std::vector<std::string>& args, bool json) {
  if (args.size() != 1) return Usage("cancel needs exactly one WORKFLOW");
  herald::v1::CancelRequest request;
  request.set_workflow(args[0]);
  request.set_cancellation_key(absl::GetFlag(FLAGS_cancellation_key));
  for (const std::string& id : SplitList(absl::GetFlag(FLAGS_to))) request.add_recipients(id);
  herald::v1::CancelResponse response;
  if (!cli.Call(&herald::v1::Herald::Stub::Cancel, request, &response)) return 1;
  if (json) {
    std::cout << Json(response) << std::endl;
  } else {
    std::cout << "cancelled " << response.cancelled_runs() << " pending run(s)" << std::endl;
  }
  return 0;
}

int Identify(Cli& cli, const std::vector<std::string>& args, bool json) {
  if (args.size() != 1) return Usage("identify needs exactly one USER");
  herald::v1::IdentifyUserRequest request;
  auto* user = request.mutable_user();
  user->set_id(args[0]);
  user->set_name(absl::GetFlag(FLAGS_name));
  user->set_email(absl::GetFlag(FLAGS_email));
  user->set_phone_number(absl::GetFlag(FLAGS_phone));
  user->set_properties_json(absl::GetFlag(FLAGS_properties));
  herald::v1::User response;
  if (!cli.Call(&herald::v1::Herald::Stub::IdentifyUser, request, &response)) return 1;
  if (json) {
    std::cout << Json(response) << std::endl;
  } else {
    PrintUser(response);
  }
  return 0;
}

int Preferences(Cli& cli, const std::vector<std::string>& args, bool json) {
  std::string user = absl::GetFlag(FLAGS_user), tenant = absl::GetFlag(FLAGS_tenant);
  herald::v1::Preferences response;
  if (args.size() == 1 && args[0] == "get") {
    herald::v1::GetPreferencesRequest request;
    request.set_user_id(user);
    request.set_tenant(tenant);
    if (!cli.Call(&herald::v1::Herald::Stub::GetPreferences, request, &response)) return 1;
  } else if (args.size() == 2 && args[0] == "set") {
    herald::v1::SetPreferencesRequest request;
    request.set_user_id(user);
    request.set_tenant(tenant);
    request.set_preferences_json(args[1]);
    if (!cli.Call(&herald::v1::Herald::Stub::SetPreferences, request, &response)) return 1;
  } else {
    return Usage("preferences needs get, or set JSON");
  }
  if (json) {
    std::cout << Json(response) << std::endl;
  } else {
    std::string scope = user.empty() ? absl::StrCat("tenant ", tenant, " (default)")
                                     : absl::StrCat("user ", user, tenant.empty() ? "" : absl::StrCat(" in tenant ", tenant));
    std::cout << scope << ": " << response.preferences_json() << std::endl;
  }
  return 0;
}

int Explain(Cli& cli, const std::vector<std::string>& args, bool json) {
  if (args.size() != 1) return Usage("explain needs exactly one WORKFLOW");
  herald::v1::ExplainPreferencesRequest request;
  request.set_workflow(args[0]);
  request.set_user_id(absl::GetFlag(FLAGS_user));
  request.set_tenant(absl::GetFlag(FLAGS_tenant));
  request.set_channel_type(absl::GetFlag(FLAGS_channel_type));
  request.set_data_json(absl::GetFlag(FLAGS_data));
  herald::v1::ExplainPreferencesResponse response;
  if (!cli.Call(&herald::v1::Herald::Stub::ExplainPreferences, request, &response)) return 1;
  if (json) {
    std::cout << Json(response) << std::endl;
    return 0;
  }
  std::cout << (response.send() ? "SEND" : "SUPPRESS") << "  (" << response.reason() << ")";
  if (!response.decided_by().empty()) std::cout << "  decided by " << response.decided_by();
  if (!response.bypassed().empty()) std::cout << "  bypassing " << response.bypassed();
  std::cout << "\n";
  for (const auto& rule : response.chain()) {
    std::cout << "  " << (rule.allows() ? "allows  " : "opts out") << "  " << rule.level() << ":" << rule.setting();
    if (!rule.note().empty()) std::cout << "  (" << rule.note() << ")";
    std::cout << "\n";
  }
  for (const auto& rule : response.overridden()) {
    std::cout << "  overridden  " << rule.level() << ":" << rule.setting() << " = " << (rule.allows() ? "on" : "off")
              << "\n";
  }
  if (response.chain_size() == 0) std::cout << "  no preference applies\n";
  std::cout << std::flush;
  return 0;
}

// Prints a response as JSON (these admin answers have no shorter form).
int PrintJson(const google::protobuf::Message& response) {
  std::cout << Json(response) << std::endl;
  return 0;
}

int GetUser(Cli& cli, const std::vector<std::string>& args, bool json) {
  if (args.size() == 2 && args[0] == "delete") {
    herald::v1::DeleteUserRequest request;
    request.set_id(args[1]);
    herald::v1::DeleteUserResponse response;
    if (!cli.Call(&herald::v1::Herald::Stub::DeleteUser, request, &response)) return 1;
    if (json) return PrintJson(response);
    std::cout << "deleted user " << args[1] << " (" << response.deleted_keys() << " keys)" << std::endl;
    return 0;
  }
  if (args.size() == 3 && args[0] == "merge") {
    herald::v1::MergeUsersRequest request;
    request.set_user_id(args[1]);
    request.set_from_user_id(args[2]);
    herald::v1::User response;
    if (!cli.Call(&herald::v1::Herald::Stub::MergeUsers, request, &response)) return 1;
    if (json) return PrintJson(response);
    std::cout << "merged " << args[2] << " into:\n";
    PrintUser(response);
    return 0;
  }
  if (args.size() != 1) return Usage("user needs USER, delete USER or merge USER FROM_USER");
  herald::v1::GetUserRequest request;
  request.set_id(args[0]);
  herald::v1::User response;
  if (!cli.Call(&herald::v1::Herald::Stub::GetUser, request, &response)) return 1;
  if (json) {
    std::cout << Json(response) << std::endl;
  } else {
    PrintUser(response);
  }
  return 0;
}

int Feed(Cli& cli, const std::vector<std::string>& args, bool json) {
  if (args.size() < 2) return Usage("feed needs list USER or mark USER ACTION");
  if (args[0] == "list") {
    if (args.size() != 2) return Usage("feed list takes one USER");
    herald::v1::ListFeedRequest request;
    request.set_user_id(args[1]);
    request.set_page_size(absl::GetFlag(FLAGS_page_size));
    request.set_after(absl::GetFlag(FLAGS_after));
    std::string status = absl::GetFlag(FLAGS_status);
    request.set_tenant(absl::GetFlag(FLAGS_tenant));
    if (status == "unread") request.set_status(herald::v1::FEED_STATUS_FILTER_UNREAD);
    else if (status == "unseen") request.set_status(herald::v1::FEED_STATUS_FILTER_UNSEEN);
    else if (status == "read") request.set_status(herald::v1::FEED_STATUS_FILTER_READ);
    else if (status == "archived") request.set_status(herald::v1::FEED_STATUS_FILTER_ARCHIVED);
    else if (!status.empty()) return Usage("--status must be unread, unseen, read or archived");
    herald::v1::ListFeedResponse response;
    if (!cli.Call(&herald::v1::Herald::Stub::ListFeed, request, &response)) return 1;
    if (json) {
      std::cout << Json(response) << std::endl;
      return 0;
    }
    const auto& meta = response.metadata();
    std::cout << args[1] << ": " << meta.total_count() << " items, " << meta.unread_count() << " unread, "
              << meta.unseen_count() << " unseen\n";
    for (const auto& item : response.items()) {
      std::string flags = item.archived_at_ms() ? "archived" : (item.read_at_ms() ? "read" : (item.seen_at_ms() ? "seen" : "new"));
      std::cout << "  " << item.id() << "  " << FormatTime(item.inserted_at_ms()) << "  [" << flags << "]  "
                << item.workflow() << "\n";
      for (const auto& block : item.blocks()) {
        std::cout << "      " << block.name() << ": " << (block.markdown().empty() ? block.rendered() : block.markdown());
        for (const auto& button : block.buttons()) std::cout << " [" << button.label() << " -> " << button.action() << "]";
        std::cout << "\n";
      }
    }
    if (!response.next_cursor().empty()) std::cout << "more: --after " << response.next_cursor() << "\n";
    return 0;
  }
  if (args[0] == "mark") {
    if (args.size() < 3) return Usage("feed mark needs USER ACTION and ids or --all");
    herald::v1::MarkFeedItemsRequest request;
    request.set_tenant(absl::GetFlag(FLAGS_tenant));
    request.set_user_id(args[1]);
    herald::v1::FeedAction action;
    if (!herald::v1::FeedAction_Parse(absl::StrCat("FEED_ACTION_", absl::AsciiStrToUpper(args[2])), &action) ||
        action == herald::v1::FEED_ACTION_UNSPECIFIED) {
      return Usage(absl::StrCat("unknown action '", args[2], "'"));
    }
    request.set_action(action);
    request.set_all(absl::GetFlag(FLAGS_all));
    for (size_t i = 3; i < args.size(); ++i) request.add_ids(args[i]);
    herald::v1::MarkFeedItemsResponse response;
    if (!cli.Call(&herald::v1::Herald::Stub::MarkFeedItems, request, &response)) return 1;
    if (json) {
      std::cout << Json(response) << std::endl;
    } else {
      std::cout << "changed " << response.changed() << " item(s); now " << response.metadata().unread_count()
                << " unread, " << response.metadata().unseen_count() << " unseen" << std::endl;
    }
    return 0;
  }
  return Usage(absl::StrCat("unknown feed command '", args[0], "'"));
}

void PrintWorkflow(const herald::v1::Workflow& workflow) {
  std::cout << workflow.key() << "  (" << workflow.name() << ")  " << workflow.source_file() << "\n";
  for (int i = 0; i < workflow.steps_size(); ++i) {
    const auto& step = workflow.steps(i);
    std::cout << "  " << i << ". " << step.ref() << " [" << step.type() << "] " << step.summary() << "\n";
  }
}

int Workflows(Cli& cli, const std::vector<std::string>& args, bool json) {
  if (args.empty()) return Usage("workflows needs list, get KEY or lint FILE...");
  if (args[0] == "lint") {
    if (args.size() < 2) return Usage("workflows lint needs at least one FILE");
    int bad = 0;
    for (size_t i = 1; i < args.size(); ++i) {
      auto workflow = herald::workflow::ParseWorkflowFile(args[i]);
      if (!workflow.ok()) {
        ++bad;
        std::cerr << workflow.status().message() << std::endl;
      } else if (!json) {
        std::cout << args[i] << ": ok (workflow '" << workflow->key << "', " << workflow->steps.size() << " steps)\n";
      }
    }
    if (json) std::cout << "{\"files\":" << args.size() - 1 << ",\"invalid\":" << bad << "}" << std::endl;
    return bad == 0 ? 0 : 1;
  }
  if (args[0] == "list") {
    herald::v1::ListWorkflowsResponse response;
    if (!cli.Call(&herald::v1::Herald::Stub::ListWorkflows, herald::v1::ListWorkflowsRequest(), &response)) return 1;
    if (json) {
      std::cout << Json(response) << std::endl;
    } else {
      for (const auto& workflow : response.workflows()) PrintWorkflow(workflow);
    }
    return 0;
  }
  if (args[0] == "get" && args.size() == 2) {
    herald::v1::GetWorkflowRequest request;
    request.set_key(args[1]);
    herald::v1::Workflow response;
    if (!cli.Call(&herald::v1::Herald::Stub::GetWorkflow, request, &response)) return 1;
    if (json) {
      std::cout << Json(response) << std::endl;
    } else {
      PrintWorkflow(response);
    }
    return 0;
  }
  return Usage(absl::StrCat("unknown workflows command '", args[0], "'"));
}

int ChannelData(Cli& cli, const std::vector<std::string>& args, bool json) {
  if (args.size() == 4 && args[0] == "set") {
    herald::v1::SetChannelDataRequest request;
    request.set_user_id(args[1]);
    request.set_channel(args[2]);
    request.set_data_json(args[3]);
    herald::v1::ChannelData response;
    if (!cli.Call(&herald::v1::Herald::Stub::SetChannelData, request, &response)) return 1;
    return PrintJson(response);
  }
  if (args.size() == 3 && (args[0] == "get" || args[0] == "unset")) {
    herald::v1::ChannelDataRequest request;
    request.set_user_id(args[1]);
    request.set_channel(args[2]);
    if (args[0] == "get") {
      herald::v1::ChannelData response;
      if (!cli.Call(&herald::v1::Herald::Stub::GetChannelData, request, &response)) return 1;
      return PrintJson(response);
    }
    herald::v1::UnsetChannelDataResponse response;
    if (!cli.Call(&herald::v1::Herald::Stub::UnsetChannelData, request, &response)) return 1;
    if (json) return PrintJson(response);
    std::cout << (response.existed() ? "removed" : "there was none") << std::endl;
    return 0;
  }
  return Usage("channel-data needs set USER CHANNEL JSON, get USER CHANNEL or unset USER CHANNEL");
}

int Object(Cli& cli, const std::vector<std::string>& args, bool json) {
  if (args.size() != 2) return Usage("object needs a command and COLLECTION/ID");
  auto ref = ParseObjectRef(args[1]);
  if (!ref) return Usage(absl::StrCat("'", args[1], "' is not collection/id"));
  const std::string& verb = args[0];
  if (verb == "identify") {
    herald::v1::IdentifyObjectRequest request;
    *request.mutable_object() = *ref;
    request.set_name(absl::GetFlag(FLAGS_name));
    request.set_properties_json(absl::GetFlag(FLAGS_properties));
    herald::v1::Object response;
    if (!cli.Call(&herald::v1::Herald::Stub::IdentifyObject, request, &response)) return 1;
    return PrintJson(response);
  }
  herald::v1::ObjectRequest object;
  *object.mutable_object() = *ref;
  if (verb == "get") {
    herald::v1::Object response;
    if (!cli.Call(&herald::v1::Herald::Stub::GetObject, object, &response)) return 1;
    return PrintJson(response);
  }
  if (verb == "delete") {
    herald::v1::DeleteObjectResponse response;
    if (!cli.Call(&herald::v1::Herald::Stub::DeleteObject, object, &response)) return 1;
    return PrintJson(response);
  }
  if (verb == "subscribe" || verb == "unsubscribe") {
    herald::v1::SubscriptionsRequest request;
    *request.mutable_object() = *ref;
    for (const std::string& id : SplitList(absl::GetFlag(FLAGS_to))) request.add_user_ids(id);
    herald::v1::SubscriptionsResponse response;
    auto method = verb == "subscribe" ? &herald::v1::Herald::Stub::Subscribe : &herald::v1::Herald::Stub::Unsubscribe;
    if (!cli.Call(method, request, &response)) return 1;
    if (json) return PrintJson(response);
    std::cout << verb << "d " << response.changed() << "; " << response.subscriber_count() << " subscriber(s)"
              << std::endl;
    return 0;
  }
  if (verb == "subscribers") {
    herald::v1::ListSubscribersRequest request;
    *request.mutable_object() = *ref;
    request.set_page_size(absl::GetFlag(FLAGS_page_size));
    request.set_after(absl::GetFlag(FLAGS_after));
    herald::v1::ListSubscribersResponse response;
    if (!cli.Call(&herald::v1::Herald::Stub::ListSubscribers, request, &response)) return 1;
    if (json) return PrintJson(response);
    for (const std::string& id : response.user_ids()) std::cout << id << "\n";
    std::cout << response.subscriber_count() << " subscriber(s)";
    if (!response.next_cursor().empty()) std::cout << "; next page: --after " << response.next_cursor();
    std::cout << std::endl;
    return 0;
  }
  return Usage(absl::StrCat("unknown object command '", verb, "'"));
}

int Fanout(Cli& cli, const std::vector<std::string>& args, bool json) {
  if (args.size() != 1) return Usage("fanout needs exactly one FANOUT_ID");
  herald::v1::GetObjectFanoutRequest request;
  request.set_fanout_id(args[0]);
  herald::v1::ObjectFanout response;
  if (!cli.Call(&herald::v1::Herald::Stub::GetObjectFanout, request, &response)) return 1;
  if (json) return PrintJson(response);
  std::cout << response.status() << ": " << response.recipients() << " subscriber(s) of " << response.object().collection()
            << "/" << response.object().id() << " in " << response.pages() << " page(s), workflow "
            << response.workflow() << ", started " << FormatTime(response.started_at_ms()) << ", finished "
            << FormatTime(response.finished_at_ms()) << std::endl;
  return 0;
}

int Tenant(Cli& cli, const std::vector<std::string>& args, bool json) {
  if (args.size() != 2) return Usage("tenant needs identify|get|delete TENANT");
  herald::v1::Tenant response;
  if (args[0] == "identify") {
    herald::v1::IdentifyTenantRequest request;
    request.set_id(args[1]);
    request.set_name(absl::GetFlag(FLAGS_name));
    request.set_settings_json(absl::GetFlag(FLAGS_settings));
    if (!cli.Call(&herald::v1::Herald::Stub::IdentifyTenant, request, &response)) return 1;
    return PrintJson(response);
  }
  herald::v1::TenantRequest request;
  request.set_id(args[1]);
  if (args[0] == "get") {
    if (!cli.Call(&herald::v1::Herald::Stub::GetTenant, request, &response)) return 1;
    return PrintJson(response);
  }
  if (args[0] == "delete") {
    herald::v1::DeleteTenantResponse deleted;
    if (!cli.Call(&herald::v1::Herald::Stub::DeleteTenant, request, &deleted)) return 1;
    std::cout << "deleted tenant " << args[1] << std::endl;
    return 0;
  }
  return Usage(absl::StrCat("unknown tenant command '", args[0], "'"));
}

int Message(Cli& cli, const std::vector<std::string>& args, bool json) {
  if (args.size() != 2) return Usage("message needs USER MESSAGE_ID");
  herald::v1::GetMessageRequest request;
  request.set_user_id(args[0]);
  request.set_message_id(args[1]);
  herald::v1::Message response;
  if (!cli.Call(&herald::v1::Herald::Stub::GetMessage, request, &response)) return 1;
  return PrintJson(response);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  std::vector<char*> raw = absl::ParseCommandLine(argc, argv);
  std::vector<std::string> args(raw.begin() + 1, raw.end());
  if (args.empty()) return Usage("no command");
  std::string command = args[0];
  args.erase(args.begin());
  bool json = absl::GetFlag(FLAGS_json);
  Cli cli(absl::GetFlag(FLAGS_addr));
  if (command == "trigger") return Trigger(cli, args, json);
  if (command == "cancel") return Cancel(cli, args, json);
  if (command == "identify") return Identify(cli, args, json);
  if (command == "user") return GetUser(cli, args, json);
  if (command == "feed") return Feed(cli, args, json);
  if (command == "workflows") return Workflows(cli, args, json);
  if (command == "preferences") return Preferences(cli, args, json);
  if (command == "explain") return Explain(cli, args, json);
  if (command == "channel-data") return ChannelData(cli, args, json);
  if (command == "object") return Object(cli, args, json);
  if (command == "fanout") return Fanout(cli, args, json);
  if (command == "tenant") return Tenant(cli, args, json);
  if (command == "message") return Message(cli, args, json);
  return Usage(absl::StrCat("unknown command '", command, "'"));
}
