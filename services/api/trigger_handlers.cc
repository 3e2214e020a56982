#include "services/api/trigger_handlers.h"

#include <atomic>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace herald::api {
namespace {

// Triggers being written, each with the response it fills.
struct PendingTrigger {
  PlannedTrigger planned;
  v1::TriggerResponse* response = nullptr;
  absl::Status status;
};
using PendingTriggers = std::vector<PendingTrigger>;
using WrittenCallback = absl::AnyInvocable<void(PendingTriggers) &&>;
// Finishes a call from its written triggers.
using Answer = absl::AnyInvocable<void(PendingTriggers, Finish) &&>;

// The partition writes of a call in flight: plain event writes through the
// group commit, script calls in a round trip of their own.
struct PartitionWrites {
  PendingTriggers pending;
  WrittenCallback done;
  // The trigger of each plain event, and each event's status once written.
  std::vector<size_t> event_trigger;
  std::vector<absl::Status> event_statuses;
  // Per trigger: [first script command, count), and the scripts' replies.
  std::vector<std::pair<size_t, size_t>> script_ranges;
  redis::AsyncPipeline::Results script_results;
  // The writes still out (plain events, scripts); the last to return
  // answers.
  std::atomic<int> outstanding{0};

  static void Returned(std::shared_ptr<PartitionWrites> writes) {
    if (writes->outstanding.fetch_sub(1) != 1) return;
    PendingTriggers& pending = writes->pending;
    for (size_t i = 0; i < pending.size(); ++i) {
      auto [first, count] = writes->script_ranges[i];
      if (count > 0) pending[i].status = ApplyTriggerReplies(writes->script_results, first, count, pending[i].response);
    }
    for (size_t e = 0; e < writes->event_trigger.size(); ++e) {
      PendingTrigger& trigger = pending[writes->event_trigger[e]];
      // A plain write is always a fresh one.
      trigger.response->set_duplicate(false);
      if (trigger.status.ok()) trigger.status = writes->event_statuses[e];
    }
    std::move(writes->done)(std::move(pending));
  }
};

// Second step: every partition write of the triggers still OK. Plain event
// writes (XADD of one event) go through the group commit, so they share an
// entry per stream with each other and with concurrent calls' (`events`);
// the script calls (inline users, object fan-outs, idempotency keys) go in
// one round trip. `done` runs once both returned.
void WritePartitions(EventWriter& events, redis::AsyncPipeline& redis, PendingTriggers pending,
                     WrittenCallback done) {
  auto writes = std::make_shared<PartitionWrites>();
  std::vector<StreamEvent> plain;
  std::vector<redis::Command> scripts;
  writes->script_ranges.reserve(pending.size());
  for (size_t i = 0; i < pending.size(); ++i) {
    const size_t first = scripts.size();
    if (pending[i].status.ok()) {
      for (redis::Command& command : pending[i].planned.commands) {
        StreamEvent event;
        if (TakePlainEventWrite(command, &event)) {
          plain.push_back(std::move(event));
          writes->event_trigger.push_back(i);
        } else {
          scripts.push_back(std::move(command));
        }
      }
    }
    writes->script_ranges.emplace_back(first, scripts.size() - first);
  }
  if (plain.empty() && scripts.empty()) return std::move(done)(std::move(pending));
  writes->pending = std::move(pending);
  writes->done = std::move(done);
  // Set before either write starts: either may return first.
  writes->outstanding = (plain.empty() ? 0 : 1) + (scripts.empty() ? 0 : 1);
  if (!plain.empty()) {
    events.Write(std::move(plain), [writes](std::vector<absl::Status> statuses) mutable {
      writes->event_statuses = std::move(statuses);
      PartitionWrites::Returned(std::move(writes));
    });
  }
  if (!scripts.empty()) {
    redis.Submit(std::move(scripts), [writes](redis::AsyncPipeline::Results results) mutable {
      writes->script_results = std::move(results);
      PartitionWrites::Returned(std::move(writes));
    });
  }
}

// Writes the triggers: first the idempotency records of those that have a
// key (one round trip; a key reused with a different request fails only
// that trigger), then every partition write. `done` gets each trigger's
// status.
void WriteTriggers(EventWriter& events, redis::AsyncPipeline& redis, PendingTriggers pending,
                   WrittenCallback done) {
  std::vector<redis::Command> claims;
  std::vector<size_t> claimed_by;
  for (size_t i = 0; i < pending.size(); ++i) {
    if (!pending[i].status.ok() || !pending[i].planned.idempotency_claim.has_value()) continue;
    claims.push_back(std::move(*pending[i].planned.idempotency_claim));
    claimed_by.push_back(i);
  }
  if (claims.empty()) return WritePartitions(events, redis, std::move(pending), std::move(done));
  redis.Submit(std::move(claims), [&events, &redis, pending = std::move(pending), claimed_by = std::move(claimed_by),
                                   done = std::move(done)](redis::AsyncPipeline::Results results) mutable {
    for (size_t c = 0; c < claimed_by.size(); ++c) {
      if (!results[c].ok()) pending[claimed_by[c]].status = results[c].status();
    }
    WritePartitions(events, redis, std::move(pending), std::move(done));
  });
}

// Writes the triggers once the rate limits admit the valid ones (one token
// each, `tenants` in the order of `pending`); a refusal finishes the whole
// call with it and nothing is written.
void AdmitAndWrite(const TriggerRateLimiter& limiter, EventWriter& events, redis::AsyncPipeline& redis,
                   const Caller& caller, const std::vector<absl::string_view>& tenants, PendingTriggers pending,
                   Finish finish, Answer answer) {
  std::vector<absl::string_view> admitting;
  for (size_t i = 0; i < pending.size(); ++i) {
    if (pending[i].status.ok()) admitting.push_back(tenants[i]);
  }
  limiter.Admit(caller.api_key_hash, admitting,
                [&events, &redis, pending = std::move(pending), finish = std::move(finish),
                 answer = std::move(answer)](absl::Status admitted) mutable {
                  if (!admitted.ok()) return std::move(finish)(admitted);
                  WriteTriggers(events, redis, std::move(pending),
                                [finish = std::move(finish), answer = std::move(answer)](PendingTriggers written) mutable {
                                  std::move(answer)(std::move(written), std::move(finish));
                                });
                });
}

}  // namespace

void TriggerHandlers::Trigger(const Caller& caller, const v1::TriggerRequest& request, v1::TriggerResponse* response,
                              Finish finish) const {
  const int64_t now_us = backend_.clock().NowMicros();
  auto planned = PlanTrigger(request, backend_.workflows(), backend_.options().limits, backend_.partitions(), now_us,
                             "", lanes_.Choose(request.tenant(), request.recipients_size(), now_us));
  if (!planned.ok()) return std::move(finish)(planned.status());
  *response = std::move(planned->response);
  PendingTriggers pending(1);
  pending[0].planned = std::move(*planned);
  pending[0].response = response;
  AdmitAndWrite(limiter_, events_, backend_.redis(), caller, {request.tenant()}, std::move(pending), std::move(finish),
                [](PendingTriggers written, Finish finish) { std::move(finish)(written[0].status); });
}

void TriggerHandlers::TriggerBatch(const Caller& caller, const v1::TriggerBatchRequest& request,
                                   v1::TriggerBatchResponse* response, Finish finish) const {
  const int max_triggers = backend_.options().limits.max_batch_triggers;
  if (request.triggers_size() == 0) {
    return std::move(finish)(absl::InvalidArgumentError("triggers: at least one is required"));
  }
  if (request.triggers_size() > max_triggers) {
    return std::move(finish)(absl::InvalidArgumentError(
        absl::StrCat("triggers: at most ", max_triggers, " per call (got ", request.triggers_size(), ")")));
  }
  const int64_t now_us = backend_.clock().NowMicros();
  PendingTriggers pending(request.triggers_size());
  std::vector<absl::string_view> tenants;
  tenants.reserve(request.triggers_size());
  for (const v1::TriggerRequest& trigger : request.triggers()) tenants.push_back(trigger.tenant());
  for (int i = 0; i < request.triggers_size(); ++i) {
    v1::TriggerResult* result = response->add_results();
    const v1::TriggerRequest& trigger = request.triggers(i);
    auto planned = PlanTrigger(trigger, backend_.workflows(), backend_.options().limits, backend_.partitions(), now_us,
                               absl::StrCat("triggers[", i, "]."),
                               lanes_.Choose(trigger.tenant(), trigger.recipients_size(), now_us));
    if (!planned.ok()) {
      pending[i].status = planned.status();
      continue;
    }
    *result->mutable_response() = std::move(planned->response);
    pending[i].planned = std::move(*planned);
    pending[i].response = result->mutable_response();
  }
  AdmitAndWrite(limiter_, events_, backend_.redis(), caller, tenants, std::move(pending), std::move(finish),
                [response](PendingTriggers written, Finish finish) {
                  for (size_t i = 0; i < written.size(); ++i) {
                    if (written[i].status.ok()) continue;
                    v1::TriggerResult* result = response->mutable_results(static_cast<int>(i));
                    result->set_code(static_cast<int>(written[i].status.code()));
                    result->set_error(std::string(written[i].status.message()));
                    result->clear_response();
                  }
                  std::move(finish)(absl::OkStatus());
                });
}

void TriggerHandlers::Cancel(const v1::CancelRequest& request, v1::CancelResponse* response, Finish finish) const {
  auto commands = PlanCancel(request, backend_.workflows(), backend_.partitions(), backend_.clock().NowMillis());
  if (!commands.ok()) return std::move(finish)(commands.status());
  backend_.Run(std::move(*commands),
               [response](const Backend::Results& results) {
                 int64_t cancelled = 0;
                 for (const auto& result : results) cancelled += result->integer;
                 response->set_cancelled_runs(cancelled);
                 return absl::OkStatus();
               },
               std::move(finish));
}

}  // namespace herald::api
