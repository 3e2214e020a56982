// The loaded workflows, as the API and the CLI describe them.
#pragma once

#include "herald/v1/herald.pb.h"
#include "services/api/backend.h"

namespace herald::api {

// Thread-safe.
class WorkflowHandlers : public HandlerGroup {
 public:
  using HandlerGroup::HandlerGroup;

  void ListWorkflows(const v1::ListWorkflowsRequest& request, v1::ListWorkflowsResponse* response,
                     Finish finish) const;
  void GetWorkflow(const v1::GetWorkflowRequest& request, v1::Workflow* response, Finish finish) const;

};

v1::Workflow DescribeWorkflow(const workflow::Workflow& workflow);

}  // namespace herald::api
