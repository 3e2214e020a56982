// Triggers, trigger batches and cancellations: validated and planned by
// trigger_planner, written through the group-commit pipeline, answered only
// once Redis acknowledged every write.
#pragma once

#include "herald/v1/herald.pb.h"
#include "services/api/backend.h"

namespace herald::api {

// Thread-safe.
class TriggerHandlers : public HandlerGroup {
 public:
  using HandlerGroup::HandlerGroup;

  void Trigger(const v1::TriggerRequest& request, v1::TriggerResponse* response, Finish finish) const;
  // Each trigger gets its own result code; the call fails only when the
  // batch itself is malformed.
  void TriggerBatch(const v1::TriggerBatchRequest& request, v1::TriggerBatchResponse* response, Finish finish) const;
  void Cancel(const v1::CancelRequest& request, v1::CancelResponse* response, Finish finish) const;

};

}  // namespace herald::api
