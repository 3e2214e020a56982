#include "batcher/batcher.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "runs/event_entry.h"
#include "runs/step_runner.h"
#include "runs/wait_store.h"
#include "core/ids.h"
#include "core/keys.h"
#include "core/log.h"
#include "core/metrics.h"
#include "messages/message_store.h"
#include "herald/v1/pipeline.pb.h"

namespace herald::batcher {
namespace {

prometheus::Family<prometheus::Counter>& RunsFamily(prometheus::Registry& registry) {
  return prometheus::BuildCounter()
      .Name("herald_batcher_runs_total")
      .Help("Runs handled by the batcher, by outcome")
      .Register(registry);
}

}  // namespace

BatcherMetrics::BatcherMetrics(prometheus::Registry& registry)
    : events(SimpleCounter(registry, "herald_batcher_events_total", "Trigger events consumed")),
      runs_direct(RunsFamily(registry).Add({{"outcome", "direct"}})),
      runs_waiting(RunsFamily(registry).Add({{"outcome", "waiting"}})),
      runs_duplicate(RunsFamily(registry).Add({{"outcome", "duplicate"}})),
      runs_cancelled(RunsFamily(registry).Add({{"outcome", "cancelled"}})),
      leading_sent(RunsFamily(registry).Add({{"outcome", "leading_sent"}})),
      unknown_workflow(RunsFamily(registry).Add({{"outcome", "unknown_workflow"}})),
      poison_entries(SimpleCounter(registry, "herald_batcher_poison_entries_total",
                            "Event entries that could not be decoded (acked and dropped)")),
      reclaimed(SimpleCounter(registry, "herald_batcher_reclaimed_entries_total",
                       "Event entries taken over from a stalled consumer")),
      errors(SimpleCounter(registry, "herald_batcher_errors_total", "Redis errors in the batcher (entries retried)")),
      waits_claimed(SimpleCounter(registry, "herald_waits_claimed_total", "Batches and delays taken off the timer")),
      batches_flushed(SimpleCounter(registry, "herald_batches_flushed_total", "Non-empty batches and delays flushed")),
      batch_activities(prometheus::BuildHistogram()
                           .Name("herald_batch_activities")
                           .Help("Activities per flushed batch (delays are not batches)")
                           .Register(registry)
                           .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 3, 5, 10, 20, 50, 100, 200, 500,
                                                                            1000, 5000})),
      flush_lateness_seconds(prometheus::BuildHistogram()
                                 .Name("herald_flush_lateness_seconds")
                                 .Help("Flush time minus due time of each flushed batch or delay")
                                 .Register(registry)
                                 .Add({}, prometheus::Histogram::BucketBoundaries{
                                              0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
                                              10, 30, 60, 300})) {}

EventProcessor::EventProcessor(const workflow::Registry& workflows, const Clock& clock, const BatcherOptions& options,
                               BatcherMetrics& metrics)
    : workflows_(workflows), clock_(clock), options_(options), metrics_(metrics), users_(clock, options.partitions) {}

absl::Status EventProcessor::Process(redis::RedisClient& client, redis::StreamConsumer& consumer,
                                     const std::vector<redis::StreamEntry>& entries) {
  struct Planned {
    size_t first_command = 0;
    size_t end_command = 0;
    std::vector<bool> is_append;
  };
  std::vector<redis::Command> commands;
  std::vector<bool> command_is_append;
  // The run each command is for (nullptr: several), for the error log.
  std::vector<const std::string*> command_run;
  std::vector<const redis::StreamEntry*> poison;
  int64_t now_ms = clock_.NowMillis();

  // Decode first so profile lookups for the whole read are one round trip.
  // An entry holds one event or several (runs/event_entry.h): event e came
  // from entry entry_of[e]; an entry that does not decode is poison (acked
  // and dropped, counted), whatever it held.
  google::protobuf::Arena arena;  // the decoded events; dropped at once after the read
  std::vector<const v1::internal::EventEnvelope*> events;
  std::vector<size_t> entry_of;
  events.reserve(entries.size());
  entry_of.reserve(entries.size());
  // Whether every command of every event of the entry landed (poison is
  // acked on its own).
  std::vector<bool> entry_ok(entries.size(), true);
  std::vector<std::string> profile_ids;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!runs::DecodeEventEntry(entries[i].payload, entries[i].batch, &arena, &events).ok()) {
      metrics_.poison_entries.Increment();
      poison.push_back(&entries[i]);
      entry_ok[i] = false;
      continue;
    }
    entry_of.resize(events.size(), i);
  }
  for (const v1::internal::EventEnvelope* event_pointer : events) {
    const v1::internal::EventEnvelope& event = *event_pointer;
    const workflow::Workflow* workflow = workflows_.Find(event.workflow());
    if (workflow != nullptr && workflow->waits_read_profiles) {
      for (const auto& target : event.targets()) profile_ids.push_back(target.recipient());
      if (!event.actor().empty()) profile_ids.push_back(event.actor());
    }
  }
  if (!profile_ids.empty()) {
    absl::Status fetched = users_.Prefetch(client, profile_ids);
    if (!fetched.ok()) return fetched;
  }

  std::vector<Planned> planned(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    metrics_.events.Increment();
    planned[i].first_command = commands.size();
    const v1::internal::EventEnvelope& event = *events[i];
    const Keys& keys = KeysOf(static_cast<int>(entries[entry_of[i]].stream_index));
    const Lane lane = entries[entry_of[i]].lane;  // the run stays in the lane its trigger came through
    const workflow::Workflow* workflow = workflows_.Find(event.workflow());
    if (workflow == nullptr) {
      // The workflow was removed after the trigger was accepted: record it.
      for (const auto& target : event.targets()) {
        metrics_.unknown_workflow.Increment();
        commands.push_back(messages::RecordNotDeliveredCommand(
            keys, messages::NotDelivered{DeterministicId({target.run_id(), "workflow"}), target.recipient(),
                                     event.workflow(), event.tenant(), "", "not_sent", "unknown_workflow",
                                     clock_.NowMicros(), /*rule=*/"", /*channel_type=*/"", target.run_id()}));
        command_is_append.push_back(false);
        command_run.push_back(&target.run_id());
      }
      planned[i].end_command = commands.size();
      continue;
    }
    nlohmann::json data = nlohmann::json::parse(event.data_json().empty() ? "{}" : event.data_json(), nullptr, false);
    if (data.is_discarded()) data = nlohmann::json::object();
    nlohmann::json tenant = event.tenant().empty() ? nlohmann::json(nullptr) : nlohmann::json{{"id", event.tenant()}};
    const nlohmann::json* actor_profile = users_.Find(event.actor());
    nlohmann::json actor = actor_profile != nullptr ? *actor_profile
                           : event.actor().empty() ? nlohmann::json(nullptr)
                                                   : nlohmann::json{{"id", event.actor()}};
    // One context for the event's targets: `recipient` is rebound per
    // target (an event has up to 1,000; copying the context and building
    // a JSON id for each was much of the batcher's CPU per target).
    templates::Context context;
    context.Set("data", &data);
    context.Set("tenant", &tenant);
    context.Set("actor", &actor);
    nlohmann::json recipient_id = {{"id", ""}};
    std::string& recipient_id_text = recipient_id["id"].get_ref<std::string&>();
    context.Set("recipient", &recipient_id);

    std::map<int, v1::internal::BatchEnvelope> direct;  // by first channel step
    int64_t direct_runs = 0;  // counted once per event, not per target
    v1::internal::Activity activity;
    activity.set_actor(event.actor());
    activity.set_data_json(event.data_json());
    activity.set_accepted_at_us(event.accepted_at_us());
    for (const auto& target : event.targets()) {
      const nlohmann::json* profile = users_.Find(target.recipient());
      if (profile == nullptr) recipient_id_text = target.recipient();
      context.Rebind("recipient", profile != nullptr ? profile : &recipient_id);
      int step = runs::NextActionableStep(*workflow, 0, context, now_ms);
      if (step >= static_cast<int>(workflow->steps.size())) continue;
      if (!workflow->steps[step].is_wait()) {
        auto [it, inserted] = direct.try_emplace(step);
        v1::internal::BatchEnvelope& envelope = it->second;
        if (inserted) {
          envelope.set_workflow(workflow->key);
          envelope.set_tenant(event.tenant());
          envelope.set_resume_step(step);
          envelope.set_cancellation_key(event.cancellation_key());
          *envelope.add_activities() = activity;
          envelope.mutable_activities(0)->clear_run_id();
          envelope.mutable_activities(0)->clear_workflow_run_id();
        }
        auto* out = envelope.add_targets();
        out->set_recipient(target.recipient());
        out->set_batch_id(runs::DirectBatchId(target.run_id(), step));
        out->set_workflow_run_id(target.run_id());
        ++direct_runs;
        continue;
      }
      activity.set_run_id(target.run_id());
      activity.set_workflow_run_id(target.run_id());
      runs::RunRef run{target.recipient(), event.tenant(), event.cancellation_key(), target.run_id()};
      runs::WaitAppend append =
          runs::BuildWaitAppend(*workflow, step, run, activity, context, now_ms, options_.run_ttl_seconds);
      append.lane = lane;
      commands.push_back(runs::AppendCommand(keys, append));
      command_is_append.push_back(true);
      command_run.push_back(&target.run_id());
    }
    if (direct_runs > 0) metrics_.runs_direct.Increment(static_cast<double>(direct_runs));
    for (auto& [step, envelope] : direct) {
      commands.push_back({"XADD", keys.Batches(lane), "*", "s", envelope.SerializeAsString()});
      command_is_append.push_back(false);
      command_run.push_back(event.targets_size() == 1 ? &event.targets(0).run_id() : nullptr);
    }
    planned[i].end_command = commands.size();
  }

  std::vector<absl::StatusOr<redis::Reply>> results;
  if (!commands.empty()) results = client.Pipeline(commands);
  std::vector<const redis::StreamEntry*> done = poison;
  absl::Status first_error;
  size_t first_error_event = 0;
  const std::string* first_error_run = nullptr;
  for (size_t i = 0; i < events.size(); ++i) {
    bool ok = true;
    for (size_t c = planned[i].first_command; c < planned[i].end_command; ++c) {
      if (!results[c].ok()) {
        ok = false;
        if (first_error.ok()) {
          first_error = results[c].status();
          first_error_event = i;
          first_error_run = command_run[c];
        }
        continue;
      }
      if (!command_is_append[c]) continue;
      auto outcome = runs::ParseAppendReply(*results[c]);
      if (!outcome.ok()) {
        ok = false;
        continue;
      }
      switch (*outcome) {
        case runs::AppendOutcome::kOpened:
        case runs::AppendOutcome::kJoined:
          metrics_.runs_waiting.Increment();
          break;
        case runs::AppendOutcome::kLeadingSent:
          metrics_.leading_sent.Increment();
          break;
        case runs::AppendOutcome::kDuplicate:
          metrics_.runs_duplicate.Increment();
          break;
        case runs::AppendOutcome::kCancelled:
          metrics_.runs_cancelled.Increment();
          break;
      }
    }
    if (!ok) entry_ok[entry_of[i]] = false;
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entry_ok[i]) done.push_back(&entries[i]);
  }
  if (!first_error.ok()) {
    metrics_.errors.Increment();
    log::Error("batcher", "event processing failed; entries stay pending and are retried",
               {{"entry_id", entries[entry_of[first_error_event]].id},
                {"workflow", events[first_error_event]->workflow()},
                log::Field::IfSet("workflow_run_id", first_error_run != nullptr ? *first_error_run : ""),
                {"error", first_error}});
  }
  return consumer.Ack(done);
}

BatcherWorker::BatcherWorker(const redis::Endpoint& endpoint, const workflow::Registry& workflows, const Clock& clock,
                             BatcherOptions options, BatcherMetrics& metrics)
    : processor_(workflows, clock, options, metrics),
      worker_(endpoint,
              redis::StreamWorkerOptions{EveryPartition(options.partitions, &Keys::Events), std::string(kBatcherGroup),
                                         runs::kEventField, "batcher", options, runs::kEventBatchField,
                                         EveryPartition(options.partitions, &Keys::EventsBulk)},
              clock, processor_, redis::StreamWorker::Counting(metrics.errors, metrics.reclaimed)) {}

Flusher::Flusher(const redis::Endpoint& endpoint, const Clock& clock, BatcherOptions options, BatcherMetrics& metrics,
                 ClaimListener listener)
    : task_(endpoint, "batcher.flusher", options.flush_tick_ms,
            [&clock, options, &metrics, listener = std::move(listener)](redis::RedisClient& client)
                -> absl::StatusOr<bool> {
              std::function<void(const runs::ClaimResult&)> on_reply;
              if (listener) {
                on_reply = [&clock, &listener](const runs::ClaimResult& result) {
                  listener(result, clock.NowMillis());
                };
              }
              auto claimed = ClaimDue(client, options.partitions, clock.NowMillis(), options.claim_limit, &metrics,
                                      on_reply, options.run_ttl_seconds);
              if (!claimed.ok()) return claimed.status();
              // A full pass means more may be due: go again at once.
              return *claimed >= options.claim_limit;
            },
            [&metrics] { metrics.errors.Increment(); }) {}

void Flusher::Start() { task_.Start(); }

void Flusher::Stop() { task_.Stop(); }

absl::StatusOr<int64_t> Flusher::ClaimDue(redis::RedisClient& client, int partitions, int64_t now_ms, int limit,
                                          BatcherMetrics* metrics,
                                          const std::function<void(const runs::ClaimResult&)>& on_reply,
                                          int64_t run_ttl_seconds) {
  int64_t claimed = 0;
  for (int p = 0; p < partitions; ++p) {
    // One partition per round trip, not one pipeline: Redis runs a client's
    // pipelined scripts back to back, and a full claim holds it for as long
    // as `limit` flushes take; between round trips everyone else gets in.
    auto reply = client.Execute(runs::ClaimCommand(Keys(p), now_ms, limit, run_ttl_seconds));
    if (!reply.ok()) return reply.status();
    auto result = runs::ParseClaimReply(*reply);
    if (!result.ok()) return result.status();
    claimed += result->claimed;
    if (metrics != nullptr) {
      metrics->waits_claimed.Increment(static_cast<double>(result->claimed));
      metrics->batches_flushed.Increment(static_cast<double>(result->emitted));
      for (const runs::FlushedWait& wait : result->flushed) {
        // The claim ran at now_ms: a wait is claimed once due, never before.
        metrics->flush_lateness_seconds.Observe(static_cast<double>(std::max<int64_t>(now_ms - wait.due_ms, 0)) /
                                                1000.0);
        if (!wait.delay) metrics->batch_activities.Observe(static_cast<double>(wait.activities));
      }
    }
    if (on_reply) on_reply(*result);
  }
  return claimed;
}

}  // namespace herald::batcher
