#include "services/api/trigger_planner.h"

#include <map>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "runs/wait_store.h"
#include "core/ids.h"
#include "core/keys.h"
#include "herald/v1/pipeline.pb.h"
#include "nlohmann/json.hpp"
#include "objects/fanout_job.h"
#include "objects/object_store.h"
#include "redis/script.h"
#include "services/api/claim_idempotency.lua.h"
#include "services/api/trigger.lua.h"
#include "users/user_store.h"

namespace herald::api {
namespace {

const redis::Script kTrigger(lua::kServicesApiTrigger);
const redis::Script kClaimIdempotency(lua::kServicesApiClaimIdempotency);

absl::Status CheckLength(const std::string& value, size_t max, const std::string& field) {
  if (value.size() > max) return absl::InvalidArgumentError(absl::StrCat(field, ": longer than ", max, " bytes"));
  return absl::OkStatus();
}

struct PartitionPlan {
  v1::internal::EventEnvelope event;
  std::vector<std::string> user_keys;
  std::vector<std::string> user_args;
  std::vector<std::string> fanout_keys;
  std::vector<std::string> fanout_args;
};

}  // namespace

absl::StatusOr<PlannedTrigger> PlanTrigger(const v1::TriggerRequest& request, const workflow::Registry& workflows,
                                           const TriggerLimits& limits, int partitions, int64_t now_us,
                                           const std::string& field_prefix, Lane lane) {
  auto field = [&](absl::string_view name) { return absl::StrCat(field_prefix, name); };
  if (request.workflow().empty()) return absl::InvalidArgumentError(field("workflow: is required"));
  if (workflows.Find(request.workflow()) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(field("workflow"), ": unknown workflow '", request.workflow().substr(0, 256), "'"));
  }
  if (request.recipients_size() == 0) return absl::InvalidArgumentError(field("recipients: at least one is required"));
  if (request.recipients_size() > limits.max_recipients) {
    return absl::InvalidArgumentError(absl::StrCat(field("recipients"), ": at most ", limits.max_recipients,
                                                   " per trigger (got ", request.recipients_size(), ")"));
  }
  if (!request.actor().empty()) {
    absl::Status actor = users::ValidateId(request.actor(), field("actor"));
    if (!actor.ok()) return actor;
  }
  if (request.data_json().size() > limits.max_data_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(field("data_json"), ": ", request.data_json().size(),
                                                   " bytes, more than the ", limits.max_data_bytes, " allowed"));
  }
  if (!request.data_json().empty()) {
    // Checked without building it: the batcher parses it when it runs the
    // workflow. Valid JSON starting with '{' is an object.
    const std::string& data = request.data_json();
    if (!nlohmann::json::accept(data)) return absl::InvalidArgumentError(field("data_json: is not valid JSON"));
    if (data[data.find_first_not_of(" \t\n\r")] != '{') {
      return absl::InvalidArgumentError(field("data_json: must be a JSON object"));
    }
  }
  absl::Status status = CheckLength(request.tenant(), limits.max_key_bytes, field("tenant"));
  if (status.ok()) status = CheckLength(request.cancellation_key(), limits.max_key_bytes, field("cancellation_key"));
  if (status.ok()) status = CheckLength(request.idempotency_key(), limits.max_key_bytes, field("idempotency_key"));
  if (!status.ok()) return status;
  if (!request.tenant().empty()) {
    status = users::ValidateId(request.tenant(), field("tenant"));
    if (!status.ok()) return status;
  }

  const bool idempotent = !request.idempotency_key().empty();
  const std::string nonce =
      idempotent ? DeterministicId({"idempotency", request.workflow(), request.idempotency_key()}) : RandomId();

  PlannedTrigger planned;
  std::map<int, PartitionPlan> by_partition;
  std::vector<std::pair<int, v1::internal::ObjectFanoutJob>> object_jobs;
  absl::flat_hash_set<std::string> seen;
  for (int i = 0; i < request.recipients_size(); ++i) {
    const v1::Recipient& recipient = request.recipients(i);
    std::string where = field(absl::StrCat("recipients[", i, "]"));
    std::string id;
    if (recipient.has_object()) {
      auto ref = objects::ValidateRef(recipient.object(), absl::StrCat(where, ".object"));
      if (!ref.ok()) return ref.status();
      if (!seen.insert(absl::StrCat("\x01object:", *ref)).second) continue;
      int partition = objects::PartitionOfRef(*ref, partitions);
      std::string fanout_id = objects::FanoutId(partition, nonce, *ref);
      v1::internal::ObjectFanoutJob job;
      job.set_fanout_id(fanout_id);
      job.set_object(*ref);
      job.set_nonce(nonce);
      job.set_bulk(lane == Lane::kBulk);
      object_jobs.emplace_back(partition, std::move(job));
      auto* started = planned.response.add_fanouts();
      *started->mutable_object() = recipient.object();
      started->set_fanout_id(fanout_id);
      continue;
    }
    if (recipient.has_user()) {
      status = users::ValidateInlineUser(recipient.user(), absl::StrCat(where, ".user"));
      id = recipient.user().id();
    } else {
      id = recipient.id();
      status = users::ValidateId(id, absl::StrCat(where, ".id"));
    }
    if (!status.ok()) return status;
    int partition = PartitionOf(id, partitions);
    PartitionPlan& plan = by_partition[partition];
    // An inline user is identified wherever it appears, also when the id
    // was named before: the trigger defined them either way.
    if (recipient.has_user()) {
      plan.user_keys.push_back(KeysOf(partition).User(id));
      users::AppendUserArgs(recipient.user(), &plan.user_args);
    }
    if (!seen.insert(id).second) continue;  // the same recipient twice is one run
    std::string run_id = DeterministicId({nonce, id});
    auto* target = plan.event.add_targets();
    target->set_recipient(id);
    target->set_run_id(run_id);
    auto* run = planned.response.add_runs();
    run->set_recipient(id);
    run->set_workflow_run_id(run_id);
  }

  v1::internal::EventEnvelope shared_event;
  shared_event.set_workflow(request.workflow());
  shared_event.set_actor(request.actor());
  shared_event.set_data_json(request.data_json());
  shared_event.set_tenant(request.tenant());
  shared_event.set_cancellation_key(request.cancellation_key());
  shared_event.set_accepted_at_us(now_us);
  for (auto& [partition, job] : object_jobs) {
    *job.mutable_event() = shared_event;
    PartitionPlan& plan = by_partition[partition];
    plan.fanout_keys.push_back(KeysOf(partition).Fanout(job.fanout_id()));
    plan.fanout_args.push_back(job.SerializeAsString());
    plan.fanout_args.push_back(job.object());
    plan.fanout_args.push_back(request.workflow());
  }
  const std::string fingerprint = idempotent ? DeterministicId({request.SerializeAsString()}) : "";
  if (idempotent) {
    const Keys& record = KeysOf(PartitionOf(nonce, partitions));
    planned.idempotency_claim =
        kClaimIdempotency.Call({record.Idempotency(request.workflow(), request.idempotency_key())},
                               {fingerprint, std::to_string(limits.idempotency_ttl_seconds)});
  }
  for (auto& [partition, plan] : by_partition) {
    const Keys& keys = KeysOf(partition);
    const std::string& events = keys.Events(lane);  // the trigger's lane: its one choice of stream
    const bool has_targets = plan.event.targets_size() > 0;
    auto targets = std::move(*plan.event.mutable_targets());
    plan.event = shared_event;
    *plan.event.mutable_targets() = std::move(targets);
    if (!idempotent && plan.user_keys.empty() && plan.fanout_keys.empty()) {
      // Nothing to check or identify: a plain XADD is the whole write.
      planned.commands.push_back({"XADD", events, "*", "e", plan.event.SerializeAsString()});
      continue;
    }
    std::vector<std::string> script_keys = {
        events, keys.Expansions(),
        idempotent ? keys.IdempotencyWritten(request.workflow(), request.idempotency_key()) : events};
    script_keys.insert(script_keys.end(), plan.user_keys.begin(), plan.user_keys.end());
    script_keys.insert(script_keys.end(), plan.fanout_keys.begin(), plan.fanout_keys.end());
    std::vector<std::string> args = {std::to_string(now_us / 1000), has_targets ? plan.event.SerializeAsString() : "",
                                     fingerprint, std::to_string(limits.idempotency_ttl_seconds),
                                     std::to_string(plan.user_keys.size())};
    args.insert(args.end(), plan.user_args.begin(), plan.user_args.end());
    args.insert(args.end(), plan.fanout_args.begin(), plan.fanout_args.end());
    planned.commands.push_back(kTrigger.Call(std::move(script_keys), std::move(args)));
  }
  return planned;
}

absl::Status ApplyTriggerReplies(const std::vector<absl::StatusOr<redis::Reply>>& replies, size_t first, size_t count,
                                 v1::TriggerResponse* response) {
  bool all_duplicate = count > 0;
  for (size_t i = first; i < first + count; ++i) {
    if (!replies[i].ok()) return replies[i].status();
    // The script answers 0 for an idempotency key already seen; a plain
    // XADD answers the entry id.
    if (replies[i]->type != redis::Reply::Type::kInteger || replies[i]->integer != 0) all_duplicate = false;
  }
  response->set_duplicate(all_duplicate);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<redis::Command>> PlanCancel(const v1::CancelRequest& request,
                                                       const workflow::Registry& workflows, int partitions,
                                                       int64_t now_ms) {
  if (request.workflow().empty()) return absl::InvalidArgumentError("workflow: is required");
  if (workflows.Find(request.workflow()) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("workflow: unknown workflow '", request.workflow().substr(0, 256), "'"));
  }
  if (request.cancellation_key().empty()) return absl::InvalidArgumentError("cancellation_key: is required");
  absl::Status status = CheckLength(request.cancellation_key(), 256, "cancellation_key");
  if (!status.ok()) return status;
  if (request.recipients_size() > 1000) return absl::InvalidArgumentError("recipients: at most 1000 per call");
  std::map<int, std::vector<std::string>> by_partition;
  for (int i = 0; i < request.recipients_size(); ++i) {
    status = users::ValidateId(request.recipients(i), absl::StrCat("recipients[", i, "]"));
    if (!status.ok()) return status;
    by_partition[PartitionOf(request.recipients(i), partitions)].push_back(request.recipients(i));
  }
  std::vector<redis::Command> commands;
  if (request.recipients_size() == 0) {
    for (int p = 0; p < partitions; ++p) {
      commands.push_back(runs::CancelCommand(Keys(p), request.workflow(), request.cancellation_key(), {}, now_ms));
    }
  } else {
    for (auto& [partition, recipients] : by_partition) {
      commands.push_back(
          runs::CancelCommand(Keys(partition), request.workflow(), request.cancellation_key(), recipients, now_ms));
    }
  }
  return commands;
}

}  // namespace herald::api
