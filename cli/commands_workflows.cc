// heraldctl workflows list|get|lint: the workflows Herald loaded, and a local
// check of workflow files before they are deployed.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/cli.h"
#include "workflow/parser.h"

namespace herald::cli {
namespace {

// What `workflows lint` found; printed like an RPC answer.
struct LintSummary {
  int files = 0;
  int invalid = 0;
  std::vector<std::string> valid;  // one "FILE: ok (...)" line per valid file
};

// Found by Cli::Print through argument-dependent lookup.
std::string JsonOf(const LintSummary& summary) {
  return absl::StrCat("{\"files\":", summary.files, ",\"invalid\":", summary.invalid, "}");
}

void PrintWorkflow(const v1::Workflow& workflow, std::ostream& out) {
  out << workflow.key() << "  (" << workflow.name() << ")  " << workflow.source_file() << "\n";
  for (int i = 0; i < workflow.steps_size(); ++i) {
    const auto& step = workflow.steps(i);
    out << "  " << i << ". " << step.ref() << " [" << step.type() << "] " << step.summary() << "\n";
  }
}

Outcome List(Cli& cli, Args args) {
  auto text = [](const v1::ListWorkflowsResponse& response, std::ostream& out) {
    for (const auto& workflow : response.workflows()) PrintWorkflow(workflow, out);
  };
  return cli.CallAndPrint(&v1::Herald::Stub::ListWorkflows, v1::ListWorkflowsRequest(), text);
}

Outcome Get(Cli& cli, Args args) {
  v1::GetWorkflowRequest request;
  request.set_key(args[0]);
  return cli.CallAndPrint(&v1::Herald::Stub::GetWorkflow, request, PrintWorkflow);
}

// Parses each file locally (no server); errors go to stderr, one per file.
Outcome Lint(Cli& cli, Args args) {
  LintSummary summary;
  for (const std::string& file : args) {
    ++summary.files;
    absl::StatusOr<workflow::Workflow> workflow = workflow::ParseWorkflowFile(file);
    if (!workflow.ok()) {
      ++summary.invalid;
      std::cerr << workflow.status().message() << std::endl;
      continue;
    }
    summary.valid.push_back(
        absl::StrCat(file, ": ok (workflow '", workflow->key, "', ", workflow->steps.size(), " steps)"));
  }
  cli.Print(summary, [](const LintSummary& summary, std::ostream& out) {
    for (const std::string& line : summary.valid) out << line << "\n";
  });
  return summary.invalid == 0 ? Outcome::Ok() : Outcome::Failed();
}

}  // namespace

CommandGroup WorkflowCommands() {
  return {"Workflows",
          {
              {"workflows", "list", "", "list the loaded workflows and their steps", {}, List},
              {"workflows", "get", "KEY", "show one workflow and its steps", {}, Get},
              {"workflows", "lint", "FILE...", "check workflow files locally, without a server", {}, Lint},
          }};
}

}  // namespace herald::cli
