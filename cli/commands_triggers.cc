// heraldctl trigger and cancel: start workflow runs and stop pending ones.
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "cli/cli.h"

ABSL_FLAG(std::string, actor, "", "actor user id");
ABSL_FLAG(std::string, objects, "", "object recipients (their subscribers), comma-separated collection/id");
ABSL_FLAG(std::string, cancellation_key, "", "cancellation key");
ABSL_FLAG(std::string, idempotency_key, "", "idempotency key");

namespace herald::cli {
namespace {

void PrintTriggered(const v1::TriggerResponse& response, std::ostream& out) {
  out << (response.duplicate() ? "already triggered (idempotency key seen); runs:" : "triggered; runs:") << "\n";
  for (const auto& run : response.runs()) out << "  " << run.recipient() << "  " << run.workflow_run_id() << "\n";
  for (const auto& fanout : response.fanouts()) {
    out << "  fan-out to subscribers of " << fanout.object().collection() << "/" << fanout.object().id() << "  "
        << fanout.fanout_id() << "  (heraldctl fanout " << fanout.fanout_id() << ")\n";
  }
}

Outcome Trigger(Cli& cli, Args args) {
  v1::TriggerRequest request;
  request.set_workflow(args[0]);
  for (const std::string& id : SplitList(absl::GetFlag(FLAGS_to))) request.add_recipients()->set_id(id);
  for (const std::string& ref : SplitList(absl::GetFlag(FLAGS_objects))) {
    auto object = ParseObjectRef(ref);
    if (!object) return Outcome::Usage(absl::StrCat("--objects: '", ref, "' is not collection/id"));
    *request.add_recipients()->mutable_object() = *object;
  }
  if (request.recipients_size() == 0) return Outcome::Usage("trigger needs --to or --objects");
  request.set_actor(absl::GetFlag(FLAGS_actor));
  request.set_data_json(absl::GetFlag(FLAGS_data));
  request.set_tenant(absl::GetFlag(FLAGS_tenant));
  request.set_cancellation_key(absl::GetFlag(FLAGS_cancellation_key));
  request.set_idempotency_key(absl::GetFlag(FLAGS_idempotency_key));
  return cli.CallAndPrint(&v1::Herald::Stub::Trigger, request, PrintTriggered);
}

void PrintCancelled(const v1::CancelResponse& response, std::ostream& out) {
  out << "cancelled " << response.cancelled_runs() << " pending run(s)\n";
}

Outcome Cancel(Cli& cli, Args args) {
  v1::CancelRequest request;
  request.set_workflow(args[0]);
  request.set_cancellation_key(absl::GetFlag(FLAGS_cancellation_key));
  for (const std::string& id : SplitList(absl::GetFlag(FLAGS_to))) request.add_recipients(id);
  return cli.CallAndPrint(&v1::Herald::Stub::Cancel, request, PrintCancelled);
}

}  // namespace

CommandGroup TriggerCommands() {
  return {"Workflow runs",
          {
              {"trigger", "", "WORKFLOW",
               "run WORKFLOW for each --to user, or for the subscribers of each of --objects",
               {"--to=U1,U2", "--objects=C/ID,...", "--actor=USER", "--data=JSON", "--tenant=TENANT",
                "--cancellation_key=KEY", "--idempotency_key=KEY"},
               Trigger},
              {"cancel", "", "WORKFLOW", "stop the pending batch and delay work of --cancellation_key",
               {"--cancellation_key=KEY", "--to=U1,U2"}, Cancel},
          }};
}

}  // namespace herald::cli
