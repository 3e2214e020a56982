#pragma once

#include <cstdint>
#include <string>

#include "core/keys.h"
#include "runs/wait_store.h"

namespace herald::testing {

// What varies between the wait-store tests' appends; the rest is what the
// batcher would build for one activity.
struct TestAppendOptions {
  std::string workflow = "w";
  std::string recipient = "r";
  // Set on the header and the append, as the batcher does.
  std::string cancellation_key;
  int64_t window_ms = 1000;
  int64_t max_window_ms = 1000;
  bool sliding = false;
  bool delay = false;
  int max_activities = 0;
  // Flush the leading item at once (its batch id "leading-of-<run id>").
  bool leading = false;
  // Activity fields, for tests that look at what the batch carries.
  std::string actor;
  std::string data_json;
  Lane lane = Lane::kNormal;
  int64_t run_ttl_seconds = runs::kDefaultRunTtlSeconds;
};

// The append of run `run_id`'s one activity to the wait `wait_key` at
// `now_ms`: header (the workflow, resume step 1, one target, batch id
// "batch-of-<run id>") and activity (the run id, accepted at `now_ms`).
runs::WaitAppend MakeTestAppend(const std::string& wait_key, const std::string& run_id, int64_t now_ms,
                                const TestAppendOptions& options = {});

}  // namespace herald::testing
