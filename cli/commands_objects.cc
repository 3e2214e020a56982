// heraldctl object and fanout: objects (collection/id), their subscribers and
// the progress of a trigger's fan-out to them.
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "cli/cli.h"

namespace herald::cli {
namespace {

using ObjectHandler = Outcome (*)(Cli& cli, const v1::ObjectRef& object);

// Adapts an object command to the table: parses its COLLECTION/ID argument.
template <ObjectHandler handler>
Outcome WithObject(Cli& cli, Args args) {
  std::optional<v1::ObjectRef> object = ParseObjectRef(args[0]);
  if (!object) return Outcome::Usage(absl::StrCat("'", args[0], "' is not collection/id"));
  return handler(cli, *object);
}

v1::ObjectRequest ObjectRequest(const v1::ObjectRef& object) {
  v1::ObjectRequest request;
  *request.mutable_object() = object;
  return request;
}

Outcome Identify(Cli& cli, const v1::ObjectRef& object) {
  v1::IdentifyObjectRequest request;
  *request.mutable_object() = object;
  request.set_name(absl::GetFlag(FLAGS_name));
  request.set_properties_json(absl::GetFlag(FLAGS_properties));
  return cli.CallAndPrint(&v1::Herald::Stub::IdentifyObject, request);
}

Outcome Get(Cli& cli, const v1::ObjectRef& object) {
  return cli.CallAndPrint(&v1::Herald::Stub::GetObject, ObjectRequest(object));
}

Outcome Delete(Cli& cli, const v1::ObjectRef& object) {
  return cli.CallAndPrint(&v1::Herald::Stub::DeleteObject, ObjectRequest(object));
}

// `done` is the past tense the text output starts with.
Outcome ChangeSubscribers(Cli& cli, const v1::ObjectRef& object,
                          RpcMethod<v1::SubscriptionsRequest, v1::SubscriptionsResponse> method,
                          absl::string_view done) {
  v1::SubscriptionsRequest request;
  *request.mutable_object() = object;
  for (const std::string& id : SplitList(absl::GetFlag(FLAGS_to))) request.add_user_ids(id);
  auto text = [done](const v1::SubscriptionsResponse& response, std::ostream& out) {
    out << done << " " << response.changed() << "; " << response.subscriber_count() << " subscriber(s)\n";
  };
  return cli.CallAndPrint(method, request, text);
}

Outcome Subscribe(Cli& cli, const v1::ObjectRef& object) {
  return ChangeSubscribers(cli, object, &v1::Herald::Stub::Subscribe, "subscribed");
}

Outcome Unsubscribe(Cli& cli, const v1::ObjectRef& object) {
  return ChangeSubscribers(cli, object, &v1::Herald::Stub::Unsubscribe, "unsubscribed");
}

void PrintSubscribers(const v1::ListSubscribersResponse& response, std::ostream& out) {
  for (const std::string& id : response.user_ids()) out << id << "\n";
  out << response.subscriber_count() << " subscriber(s)";
  if (!response.next_cursor().empty()) out << "; next page: --after " << response.next_cursor();
  out << "\n";
}

Outcome ListSubscribers(Cli& cli, const v1::ObjectRef& object) {
  v1::ListSubscribersRequest request;
  *request.mutable_object() = object;
  request.set_page_size(absl::GetFlag(FLAGS_page_size));
  request.set_after(absl::GetFlag(FLAGS_after));
  return cli.CallAndPrint(&v1::Herald::Stub::ListSubscribers, request, PrintSubscribers);
}

void PrintFanout(const v1::ObjectFanout& fanout, std::ostream& out) {
  out << fanout.status() << ": " << fanout.recipients() << " subscriber(s) of " << fanout.object().collection() << "/"
      << fanout.object().id() << " in " << fanout.pages() << " page(s), workflow " << fanout.workflow() << ", started "
      << FormatTime(fanout.started_at_ms()) << ", finished " << FormatTime(fanout.finished_at_ms()) << "\n";
}

Outcome Fanout(Cli& cli, Args args) {
  v1::GetObjectFanoutRequest request;
  request.set_fanout_id(args[0]);
  return cli.CallAndPrint(&v1::Herald::Stub::GetObjectFanout, request, PrintFanout);
}

}  // namespace

CommandGroup ObjectCommands() {
  return {"Objects",
          {
              {"object", "identify", "COLLECTION/ID", "create or update an object",
               {"--name=NAME", "--properties=JSON"}, WithObject<Identify>},
              {"object", "get", "COLLECTION/ID", "show an object", {}, WithObject<Get>},
              {"object", "delete", "COLLECTION/ID", "delete an object and its subscriptions", {}, WithObject<Delete>},
              {"object", "subscribe", "COLLECTION/ID", "subscribe the --to users to an object", {"--to=U1,U2"},
               WithObject<Subscribe>},
              {"object", "unsubscribe", "COLLECTION/ID", "unsubscribe the --to users from an object", {"--to=U1,U2"},
               WithObject<Unsubscribe>},
              {"object", "subscribers", "COLLECTION/ID", "list an object's subscribers",
               {"--page_size=N", "--after=CURSOR"}, WithObject<ListSubscribers>},
              {"fanout", "", "FANOUT_ID", "progress of a trigger's fan-out to an object's subscribers", {}, Fanout},
          }};
}

}  // namespace herald::cli
