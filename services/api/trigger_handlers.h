// Triggers, trigger batches and cancellations: put in a lane by their
// tenant's rate (tenant_lanes), validated and planned by trigger_planner,
// admitted by the rate limits (trigger_rate_limiter), written with the
// group commit (plain event writes through event_writer, one entry per
// stream for many calls; scripts through the pipeline), answered only once
// Redis acknowledged every write.
#pragma once

#include "herald/v1/herald.pb.h"
#include "services/api/backend.h"
#include "services/api/event_writer.h"
#include "services/api/tenant_lanes.h"
#include "services/api/trigger_rate_limiter.h"

namespace herald::api {

// Thread-safe.
class TriggerHandlers : public HandlerGroup {
 public:
  // `limiter`, `events` and `lanes` must outlive the handlers.
  TriggerHandlers(const Backend& backend, const TriggerRateLimiter& limiter, EventWriter& events, TenantLanes& lanes)
      : HandlerGroup(backend), limiter_(limiter), events_(events), lanes_(lanes) {}

  // RESOURCE_EXHAUSTED (nothing written) over the caller's or the tenant's
  // rate limit.
  void Trigger(const Caller& caller, const v1::TriggerRequest& request, v1::TriggerResponse* response,
               Finish finish) const;
  // Each trigger gets its own result code; the call fails only when the
  // batch itself is malformed or, as a whole, over a rate limit.
  void TriggerBatch(const Caller& caller, const v1::TriggerBatchRequest& request, v1::TriggerBatchResponse* response,
                    Finish finish) const;
  void Cancel(const v1::CancelRequest& request, v1::CancelResponse* response, Finish finish) const;

 private:
  const TriggerRateLimiter& limiter_;
  EventWriter& events_;
  TenantLanes& lanes_;
};

}  // namespace herald::api
