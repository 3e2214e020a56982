#include "services/api/workflow_handlers.h"

#include "absl/strings/str_cat.h"

namespace herald::api {

v1::Workflow DescribeWorkflow(const workflow::Workflow& workflow) {
  v1::Workflow out;
  out.set_key(workflow.key);
  out.set_name(workflow.name);
  out.set_source_file(workflow.source_file);
  for (const std::string& category : workflow.categories) out.add_categories(category);
  for (const workflow::Step& step : workflow.steps) {
    v1::WorkflowStep* described = out.add_steps();
    described->set_ref(step.ref);
    described->set_type(workflow::StepTypeName(step.type));
    described->set_summary(step.Summary());
  }
  return out;
}

void WorkflowHandlers::ListWorkflows(const v1::ListWorkflowsRequest& request, v1::ListWorkflowsResponse* response,
                                     Finish finish) const {
  for (const auto& [key, workflow] : backend_.workflows().all()) *response->add_workflows() = DescribeWorkflow(workflow);
  std::move(finish)(absl::OkStatus());
}

void WorkflowHandlers::GetWorkflow(const v1::GetWorkflowRequest& request, v1::Workflow* response,
                                   Finish finish) const {
  const workflow::Workflow* workflow = backend_.workflows().Find(request.key());
  if (workflow == nullptr) {
    return std::move(finish)(absl::NotFoundError(absl::StrCat("key: no workflow '", request.key().substr(0, 256), "'")));
  }
  *response = DescribeWorkflow(*workflow);
  std::move(finish)(absl::OkStatus());
}

}  // namespace herald::api
