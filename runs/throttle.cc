#include "runs/throttle.h"

#include "redis/script.h"
#include "runs/throttle.lua.h"

namespace herald::runs {
namespace {

const redis::Script kThrottle(lua::kRunsThrottle);

}  // namespace

redis::Command ThrottleCommand(const Keys& keys, const ThrottleCheck& check) {
  return kThrottle.Call({keys.Throttle(check.digest), keys.ThrottleDecision(check.run_id, check.step),
                         keys.Batches(check.lane)},
                        {std::to_string(check.now_ms), std::to_string(check.window_ms), std::to_string(check.limit),
                         check.run_id, check.envelope_blob, std::to_string(check.run_ttl_seconds * 1000)});
}

absl::StatusOr<ThrottleResult> ParseThrottleReply(const redis::Reply& reply) {
  if (reply.elements.size() != 2) return absl::InternalError("throttle script: unexpected reply");
  return ThrottleResult{reply.elements[0].integer == 1, reply.elements[1].integer == 1};
}

}  // namespace herald::runs
