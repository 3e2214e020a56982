// Throttle steps in Redis: at most `limit` runs per sliding window pass a
// throttle step per (workflow, step ref, recipient, throttle key); the
// check and the count are one script (runs/throttle.lua). A run that
// passes is handed on through the batches stream by the same script.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "core/keys.h"
#include "redis/client.h"
#include "runs/wait_store.h"

namespace herald::runs {

struct ThrottleCheck {
  // What shares a window: DeterministicId(workflow, step ref, recipient, key).
  std::string digest;
  // The run at the step (the batch target's id): counted once, ever.
  std::string run_id;
  int step = 0;
  int limit = 1;
  int64_t window_ms = 0;
  int64_t now_ms = 0;
  // Serialized BatchEnvelope the run goes on with (one target, resume_step
  // the step after the throttle): XADDed to the lane's batches stream when
  // the run passes.
  std::string envelope_blob;
  Lane lane = Lane::kNormal;
  // How long the decision answers replays.
  int64_t run_ttl_seconds = kDefaultRunTtlSeconds;
};

redis::Command ThrottleCommand(const Keys& keys, const ThrottleCheck& check);

struct ThrottleResult {
  bool passed = false;
  // Decided by an earlier call for the same run and step (a replay):
  // nothing was counted or handed on this time.
  bool replayed = false;
};
// INTERNAL when the reply is not the script's.
absl::StatusOr<ThrottleResult> ParseThrottleReply(const redis::Reply& reply);

}  // namespace herald::runs
