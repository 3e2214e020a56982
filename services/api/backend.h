// What every group of API handlers shares: the loaded workflows, Redis (the
// group-commit pipeline for work of one round trip, the admin executor for
// multi-step operations), the clock and the service options.
#pragma once

#include <memory>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "auth/api_keys.h"
#include "core/clock.h"
#include "feed/feed_watch.h"
#include "preferences/preferences.h"
#include "redis/async_pipeline.h"
#include "services/api/admin_executor.h"
#include "services/api/tenant_lanes.h"
#include "services/api/trigger_planner.h"
#include "services/api/trigger_rate_limiter.h"
#include "services/api/unary_call.h"
#include "workflow/registry.h"

namespace herald::api {

struct ServiceOptions {
  int partitions = 4;
  TriggerLimits limits;
  // The environment's default preference set, for explanations.
  std::shared_ptr<const preferences::PreferenceSet> default_preferences;
  // Every call must present one of these keys; null: every caller is
  // served. Must outlive the service.
  const auth::ApiKeys* api_keys = nullptr;
  TriggerRateLimits rate_limits;
  // Which tenants' triggers go to the bulk lane (tenant_lanes.h).
  TenantLaneOptions lanes;
  // Marks append to the partition's feed change stream, kept to about this
  // many entries (feed/feed_store.h).
  int64_t feed_changes_max_len = 100'000;
  // Serves WatchFeed (null: WatchFeed answers UNAVAILABLE). Must outlive
  // the service.
  feed::FeedWatcher* feed_watcher = nullptr;
};

// Thread-safe (everything it holds is).
class Backend {
 public:
  using Results = redis::AsyncPipeline::Results;
  // Turns the replies of a successful round trip into the call's status
  // (and fills the response). Runs on a pipeline I/O thread: must not block.
  using Apply = absl::AnyInvocable<absl::Status(const Results&) &&>;
  using AdminOperation = absl::AnyInvocable<absl::Status(redis::RedisClient&) &&>;

  Backend(const workflow::Registry& workflows, redis::AsyncPipeline& redis, AdminExecutor& admin, const Clock& clock,
          ServiceOptions options)
      : workflows_(workflows), redis_(redis), admin_(admin), clock_(clock), options_(std::move(options)) {}

  // Runs `commands` in one round trip (grouped with other calls'); the
  // first failed command finishes the call with its error, otherwise
  // `apply` gives the status to finish with.
  void Run(std::vector<redis::Command> commands, Apply apply, Finish finish) const;
  // Runs `operation` on the admin thread and finishes with its status.
  void RunAdmin(AdminOperation operation, Finish finish) const;

  const workflow::Registry& workflows() const { return workflows_; }
  redis::AsyncPipeline& redis() const { return redis_; }
  const Clock& clock() const { return clock_; }
  const ServiceOptions& options() const { return options_; }
  int partitions() const { return options_.partitions; }

 private:
  const workflow::Registry& workflows_;
  redis::AsyncPipeline& redis_;
  AdminExecutor& admin_;
  const Clock& clock_;
  const ServiceOptions options_;
};

// The base of every group of handlers: they share the backend.
class HandlerGroup {
 public:
  explicit HandlerGroup(const Backend& backend) : backend_(backend) {}

 protected:
  const Backend& backend_;
};

// An Apply that answers with the one reply, parsed by `parse(id, reply)`
// (returning absl::StatusOr<Message>), e.g. users::UserFromReply.
template <typename Message, typename Parse>
Backend::Apply ReplyWith(Parse parse, std::string id, Message* response) {
  return [parse, id = std::move(id), response](const Backend::Results& results) {
    auto parsed = parse(id, *results[0]);
    if (parsed.ok()) *response = std::move(*parsed);
    return parsed.status();
  };
}

}  // namespace herald::api
