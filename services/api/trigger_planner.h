// Trigger validation and planning: turns a TriggerRequest into the Redis
// writes that make it durable and the run ids to answer with. Pure logic,
// no I/O. With an idempotency key the write is two steps: first the key's
// one record (in the partition of the key) accepts the request or refuses a
// different one, then each partition touched gets its write once (identify
// inline users, start object fan-outs, XADD the event).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/keys.h"
#include "herald/v1/herald.pb.h"
#include "redis/client.h"
#include "workflow/registry.h"

namespace herald::api {

struct TriggerLimits {
  int max_recipients = 1000;
  size_t max_data_bytes = 32 * 1024;
  int max_batch_triggers = 1000;
  size_t max_key_bytes = 256;
  int64_t idempotency_ttl_seconds = 24 * 3600;
};

struct PlannedTrigger {
  // With an idempotency key: run first, alone; only when it succeeds are
  // `commands` run (reply 1 first use, 0 the same request again;
  // FAILED_PRECONDITION for a different request).
  std::optional<redis::Command> idempotency_claim;
  // One command per partition touched; reply 1 = written, 0 = duplicate.
  std::vector<redis::Command> commands;
  v1::TriggerResponse response;
};

// INVALID_ARGUMENT naming the field (prefixed with `field_prefix`, e.g.
// "triggers[3]."), before anything is written. Every event of the trigger
// (and of its object fan-outs' pages) goes to `lane`'s events streams
// (tenant_lanes.h chooses it).
absl::StatusOr<PlannedTrigger> PlanTrigger(const v1::TriggerRequest& request, const workflow::Registry& workflows,
                                           const TriggerLimits& limits, int partitions, int64_t now_us,
                                           const std::string& field_prefix = "", Lane lane = Lane::kNormal);

// Combines the per-partition replies into the response's `duplicate` flag;
// the first failed write's status otherwise (the caller may retry with the
// same idempotency key).
absl::Status ApplyTriggerReplies(const std::vector<absl::StatusOr<redis::Reply>>& replies, size_t first, size_t count,
                                 v1::TriggerResponse* response);

// INVALID_ARGUMENT naming the field.
absl::StatusOr<std::vector<redis::Command>> PlanCancel(const v1::CancelRequest& request,
                                                       const workflow::Registry& workflows, int partitions,
                                                       int64_t now_ms);

}  // namespace herald::api
