// Walking a workflow's steps for one run: which step acts next, and the wait
// (batch or delay) record a wait step turns into. Pure logic, no I/O; used
// by the batcher for fresh events and by the fan-out after channel steps.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "runs/wait_store.h"
#include "herald/v1/pipeline.pb.h"
#include "templates/context.h"
#include "workflow/workflow.h"

namespace herald::runs {

// The first step at or after `from` that needs work: a channel step, or a
// wait step whose conditions pass (a wait whose conditions fail is skipped,
// and so is a channel step that runs only as another step's fallback).
// Returns steps.size() when the run is finished.
int NextActionableStep(const workflow::Workflow& workflow, int from, const templates::Context& context);

struct RunRef {
  std::string recipient;
  std::string tenant;
  std::string cancellation_key;
  // The run (fresh event) or upstream batch id: the wait's dedupe key.
  std::string run_id;
};

// Builds the append for wait step `step_index`. `activity` is what this run
// contributes. REQUIRES: the step is a batch or delay step.
WaitAppend BuildWaitAppend(const workflow::Workflow& workflow, int step_index, const RunRef& run,
                           const v1::internal::Activity& activity, const templates::Context& context, int64_t now_ms,
                           int64_t run_ttl_seconds);

// The batch id a run gets when it reaches a channel step without waiting.
std::string DirectBatchId(const std::string& run_id, int step_index);

}  // namespace herald::runs
