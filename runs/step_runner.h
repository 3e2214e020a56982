// Walking a workflow's steps for one run: which step acts next, and the wait
// (batch or delay) record a wait step turns into. Pure logic, no I/O; used
// by the batcher for fresh events and by the fan-out after channel steps.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "runs/wait_store.h"
#include "herald/v1/pipeline.pb.h"
#include "templates/context.h"
#include "workflow/workflow.h"

namespace herald::runs {

// The first step at or after `from` (following Step::next) that needs
// work: a channel step, or a wait or throttle step whose conditions pass (a
// wait or throttle whose conditions fail is skipped, and so is a channel
// step that runs only as another step's fallback). A branch step is decided
// here: the run goes on into the first branch whose conditions hold. A
// computed delay (workflow::DelayStep) due at or before `now_ms` is passed.
// Returns steps.size() when the run is finished.
int NextActionableStep(const workflow::Workflow& workflow, int from, const templates::Context& context,
                       int64_t now_ms);

// When the computed delay of `step` ends for this run, in ms since the
// epoch: its duration or time read from `context`, cut to
// workflow::kMaxDelay from now. nullopt when the value is missing or
// unreadable (the run goes on at once). REQUIRES: a delay step.
std::optional<int64_t> DelayDueMs(const workflow::Step& step, const templates::Context& context, int64_t now_ms);

// A timestamp as delay_until reads it: RFC 3339 ("2027-01-31T09:00:00Z",
// "...+02:00"), "YYYY-MM-DDTHH:MM:SS" (UTC), "YYYY-MM-DD" (midnight UTC),
// or Unix seconds as a number. nullopt for anything else.
std::optional<int64_t> TimestampMs(const nlohmann::json& value);

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
