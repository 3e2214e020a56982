#include "fanout/fanout.h"

#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "core/keys.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/status_macros.h"
#include "google/protobuf/arena.h"

namespace herald::fanout {
namespace {

using nlohmann::json;


// The per-worker caches, as the planner's directories.
class CachedUsers final : public UserDirectory {
 public:
  explicit CachedUsers(const users::UserCache& cache) : cache_(cache) {}
  const json* Find(const std::string& id) const override { return cache_.Find(id); }
  const json* FindChannelData(const std::string& id, const std::string& channel) const override {
    return cache_.FindChannelData(id, channel);
  }

 private:
  const users::UserCache& cache_;
};

class CachedPreferences final : public PreferenceDirectory {
 public:
  explicit CachedPreferences(const preferences::PreferenceCache& cache) : cache_(cache) {}
  preferences::LevelSets Find(const std::string& user, const std::string& tenant,
                              const preferences::PreferenceSet* environment) const override {
    return cache_.Find(user, tenant, environment);
  }

 private:
  const preferences::PreferenceCache& cache_;
};

class CachedTenants final : public TenantDirectory {
 public:
  explicit CachedTenants(const tenants::TenantCache& cache) : cache_(cache) {}
  const json* Find(const std::string& id) const override { return cache_.Find(id); }

 private:
  const tenants::TenantCache& cache_;
};

// The states of the messages `refs` conditions of one read may look at.
class FetchedMessageStates final : public MessageStates {
 public:
  // Reads every message RefMessageIds names for the decoded batches, in one
  // pipeline (one round trip); nothing when no workflow reads refs.
  // UNAVAILABLE/INTERNAL as the client reports them (the read is retried).
  absl::Status Fetch(redis::RedisClient& client, const workflow::Registry& workflows,
                     const std::vector<redis::StreamEntry>& entries,
                     const std::vector<v1::internal::BatchEnvelope*>& batches, const std::vector<bool>& decoded) {
    std::vector<redis::Command> commands;
    std::vector<std::string> ids;
    for (size_t i = 0; i < batches.size(); ++i) {
      if (!decoded[i]) continue;
      const Keys& keys = KeysOf(static_cast<int>(entries[i].stream_index));
      // Refs are read after a wait, whose batch is one recipient's.
      const std::string recipient = batches[i]->targets_size() == 1 ? batches[i]->targets(0).recipient() : "";
      for (std::string& id : RefMessageIds(workflows, *batches[i])) {
        commands.push_back(messages::MessageStateCommand(keys, recipient, id));
        ids.push_back(std::move(id));
      }
    }
    if (commands.empty()) return absl::OkStatus();
    std::vector<absl::StatusOr<redis::Reply>> replies = client.Pipeline(commands);
    for (size_t n = 0; n < replies.size(); ++n) {
      if (!replies[n].ok()) return replies[n].status();
      if (auto state = messages::MessageStateFromReply(*replies[n])) states_[ids[n]] = std::move(*state);
    }
    return absl::OkStatus();
  }

  const messages::MessageState* Find(const std::string& message_id) const override {
    auto found = states_.find(message_id);
    return found != states_.end() ? &found->second : nullptr;
  }

 private:
  absl::flat_hash_map<std::string, messages::MessageState> states_;
};

// Indexed by NotSentReason (all but kUnknownWorkflow, which has no channel).
constexpr const char* kNotSentReasons[] = {"unknown_recipient", "preference", "missing_channel_data",
                                           "template_error"};
static_assert(static_cast<int>(NotSentReason::kUnknownWorkflow) == std::size(kNotSentReasons));

// One entry's writes: its commands' range, and what to count once they land.
struct EntryWrites {
  size_t first_command = 0;
  size_t end_command = 0;
  BatchPlan plan;
};

// What the entry's k-th command writes, for the error log: commands are
// the plan's not-sent records, then its queued messages, then its waits.
struct Subject {
  std::string workflow_run_id;
  std::string message_id;
};
Subject SubjectOf(const BatchPlan& plan, size_t k) {
  if (k < plan.not_sent.size()) return {plan.not_sent[k].record.workflow_run_id, plan.not_sent[k].record.message_id};
  k -= plan.not_sent.size();
  if (k < plan.queued.size()) return {plan.queued[k].workflow_run_id, plan.queued[k].message_id};
  k -= plan.queued.size();
  if (k < plan.waits.size()) return {plan.waits[k].run_id, ""};
  k -= plan.waits.size();
  if (k < plan.throttles.size()) return {plan.throttles[k].record.workflow_run_id, ""};
  return {};
}

}  // namespace

MessageCounters::MessageCounters(prometheus::Registry& registry) {
  auto& family = prometheus::BuildCounter()
                     .Name("herald_messages_total")
                     .Help("Messages by channel type, status and reason")
                     .Register(registry);
  for (size_t t = 0; t < kTypeCount; ++t) {
    const std::string type(workflow::kChannelTypes[t]);
    sent_[t] = &family.Add({{"channel_type", type}, {"status", type == "in_app_feed" ? "delivered" : "queued"},
                            {"reason", ""}});
    for (int r = 0; r < kReasonCount; ++r) {
      const std::string status = static_cast<NotSentReason>(r) == NotSentReason::kTemplateError ? "undelivered"
                                                                                                 : "not_sent";
      not_sent_[t][r] = &family.Add({{"channel_type", type}, {"status", status}, {"reason", kNotSentReasons[r]}});
    }
  }
}

size_t MessageCounters::TypeIndex(const std::string& channel_type) const {
  size_t t = 0;
  while (t < kTypeCount - 1 && channel_type != workflow::kChannelTypes[t]) ++t;
  return t;
}

prometheus::Counter& MessageCounters::Sent(const std::string& channel_type) { return *sent_[TypeIndex(channel_type)]; }

prometheus::Counter& MessageCounters::NotSent(const std::string& channel_type, NotSentReason reason) {
  return *not_sent_[TypeIndex(channel_type)][static_cast<int>(reason)];
}

FanoutMetrics::FanoutMetrics(prometheus::Registry& registry)
    : batches(SimpleCounter(registry, "herald_fanout_batches_total",
                            "Batches (flushed batches, delays or direct runs) fanned out")),
      messages(registry),
      duplicate(SimpleCounter(registry, "herald_fanout_duplicate_messages_total",
                              "Messages already written (a replayed entry); nothing written again")),
      critical_bypassed(SimpleCounter(registry, "herald_critical_preference_bypasses_total",
                                      "Messages of critical workflows sent although a preference opted out")),
      skipped_condition(SimpleCounter(registry, "herald_fanout_steps_skipped_total",
                                      "Channel steps skipped by a condition")),
      waits(SimpleCounter(registry, "herald_fanout_waits_total", "Runs handed back to a later batch/delay step")),
      throttle_passed(SimpleCounter(registry, "herald_fanout_throttle_passed_total",
                                    "Runs a throttle step let through (counted in its window)")),
      throttled(SimpleCounter(registry, "herald_fanout_throttled_total",
                              "Runs a throttle step stopped (recorded not_sent, reason throttled)")),
      poison_entries(SimpleCounter(registry, "herald_fanout_poison_entries_total",
                                   "Batch entries that could not be decoded (acked and dropped)")),
      reclaimed(SimpleCounter(registry, "herald_fanout_reclaimed_entries_total",
                              "Batch entries taken over from a stalled consumer")),
      errors(SimpleCounter(registry, "herald_fanout_errors_total", "Redis errors in the fan-out (entries retried)")),
      trigger_to_feed_seconds(prometheus::BuildHistogram()
                                  .Name("herald_trigger_to_feed_seconds")
                                  .Help("From trigger accepted to feed item written (newest activity)")
                                  .Register(registry)
                                  .Add({}, prometheus::Histogram::BucketBoundaries{
                                               0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
                                               10, 30, 60, 300, 3600})) {}

BatchProcessor::BatchProcessor(const workflow::Registry& workflows, const Clock& clock, const FanoutOptions& options,
                               FanoutMetrics& metrics)
    : workflows_(workflows),
      clock_(clock),
      options_(options),
      metrics_(metrics),
      users_(clock, options.partitions, users::UserCache::ChannelData::kLoad, options.user_cache_ttl_ms * 1000,
             options.cache_capacity),
      preferences_(clock, options.partitions, options.user_cache_ttl_ms * 1000, options.cache_capacity,
                   options.preference_changes),
      tenants_(clock, options.partitions, options.user_cache_ttl_ms * 1000, options.cache_capacity) {}

absl::Status BatchProcessor::Process(redis::RedisClient& client, redis::StreamConsumer& consumer,
                                     const std::vector<redis::StreamEntry>& entries) {
  // Decode first, so the users, preferences and tenants of the whole read
  // load in one round trip.
  // The decoded batches live on one arena: a read holds thousands of
  // targets, made and dropped at once.
  google::protobuf::Arena arena;
  std::vector<v1::internal::BatchEnvelope*> batches(entries.size());
  std::vector<bool> decoded(entries.size(), false);
  std::vector<std::string> user_ids;
  std::vector<std::pair<std::string, std::string>> preference_targets;  // (recipient, tenant)
  std::vector<std::string> tenant_ids;
  for (size_t i = 0; i < entries.size(); ++i) {
    batches[i] = google::protobuf::Arena::CreateMessage<v1::internal::BatchEnvelope>(&arena);
    decoded[i] = batches[i]->ParseFromString(entries[i].payload);
    if (!decoded[i]) continue;
    tenant_ids.push_back(batches[i]->tenant());
    for (const auto& target : batches[i]->targets()) {
      user_ids.push_back(target.recipient());
      preference_targets.emplace_back(target.recipient(), batches[i]->tenant());
    }
    for (const auto& activity : batches[i]->activities()) {
      if (!activity.actor().empty()) user_ids.push_back(activity.actor());
    }
  }
  HERALD_RETURN_IF_ERROR(users_.Prefetch(client, user_ids));
  HERALD_RETURN_IF_ERROR(preferences_.Prefetch(client, preference_targets));
  HERALD_RETURN_IF_ERROR(tenants_.Prefetch(client, tenant_ids));
  FetchedMessageStates message_states;
  HERALD_RETURN_IF_ERROR(message_states.Fetch(client, workflows_, entries, batches, decoded));

  CachedUsers users(users_);
  CachedPreferences preferences(preferences_);
  CachedTenants tenants(tenants_);
  const PlanContext context{workflows_, users, preferences, tenants, options_.default_preferences.get(),
                            options_.run_ttl_seconds, &message_states, &spare_feed_items_};
  const int64_t now_us = clock_.NowMicros();
  std::vector<redis::Command> commands;
  std::vector<EntryWrites> writes(entries.size());
  // Feed items of the whole read, per partition: one insert per partition.
  std::map<int, std::vector<feed::NewItem>> items_by_partition;
  std::vector<const redis::StreamEntry*> done;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!decoded[i]) {
      metrics_.poison_entries.Increment();
      done.push_back(&entries[i]);
      continue;
    }
    const Keys& keys = KeysOf(static_cast<int>(entries[i].stream_index));
    EntryWrites& entry = writes[i];
    entry.plan = PlanBatch(context, *batches[i], now_us);
    entry.first_command = commands.size();
    for (const NotSent& not_sent : entry.plan.not_sent) {
      commands.push_back(messages::RecordNotDeliveredCommand(keys, not_sent.record, {options_.message_retention_ms}));
    }
    for (const messages::QueuedMessage& queued : entry.plan.queued) {
      commands.push_back(messages::QueueMessageCommand(keys, queued, {options_.message_retention_ms}));
    }
    for (runs::WaitAppend& wait : entry.plan.waits) {
      wait.lane = entries[i].lane;  // a later wait flushes into the lane the run came through
      commands.push_back(runs::AppendCommand(keys, wait));
    }
    for (PlannedThrottle& throttle : entry.plan.throttles) {
      throttle.check.lane = entries[i].lane;  // the run goes on in the lane it came through
      commands.push_back(runs::ThrottleCommand(keys, throttle.check));
    }
    entry.end_command = commands.size();
    auto& items = items_by_partition[keys.partition()];
    for (feed::NewItem& item : entry.plan.feed_items) items.push_back(std::move(item));
  }
  std::map<int, size_t> insert_command;  // partition -> its insert command
  for (const auto& [partition, items] : items_by_partition) {
    if (items.empty()) continue;
    insert_command[partition] = commands.size();
    commands.push_back(feed::InsertManyCommand(KeysOf(partition), items,
                                                {options_.message_retention_ms, options_.feed_max_items,
                                                 options_.feed_changes_max_len}));
  }
  std::vector<absl::StatusOr<redis::Reply>> results;
  if (!commands.empty()) results = client.Pipeline(commands);

  absl::Status first_error;
  Subject first_error_subject;
  auto failed = [&](const absl::Status& status, Subject subject = {}) {
    if (first_error.ok()) {
      first_error = status;
      first_error_subject = std::move(subject);
    }
    return false;
  };
  for (const auto& [partition, c] : insert_command) {
    if (!results[c].ok()) continue;
    const std::vector<feed::NewItem>& items = items_by_partition[partition];
    // Counted once per insert, not per item: an atomic add each was
    // measurable at a hundred items per insert.
    int64_t inserted = 0, duplicates = 0;
    for (size_t n = 0; n < results[c]->elements.size() && n < items.size(); ++n) {
      if (results[c]->elements[n].integer == 0) {
        ++duplicates;
        continue;
      }
      ++inserted;
      if (items[n].accepted_at_us > 0) {
        metrics_.trigger_to_feed_seconds.Observe((now_us - items[n].accepted_at_us) / 1e6);
      }
    }
    if (duplicates > 0) metrics_.duplicate.Increment(static_cast<double>(duplicates));
    if (inserted > 0) metrics_.messages.Sent("in_app_feed").Increment(static_cast<double>(inserted));
  }
  // Runs a throttle stopped are recorded once the throttle decided (a
  // second round trip, only when some were stopped); an entry whose record
  // fails is retried, and the replayed throttle answers the same.
  std::vector<redis::Command> records;
  std::vector<size_t> record_entry;
  std::vector<const PlannedThrottle*> record_throttle;
  std::vector<bool> throttles_ok(entries.size(), true);
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!decoded[i]) continue;
    const EntryWrites& entry = writes[i];
    size_t c = entry.end_command - entry.plan.throttles.size();
    for (const PlannedThrottle& throttle : entry.plan.throttles) {
      if (!results[c].ok()) {
        ++c;
        continue;
      }
      auto decided = runs::ParseThrottleReply(*results[c++]);
      if (!decided.ok()) {
        throttles_ok[i] = failed(decided.status(), {throttle.record.workflow_run_id, ""});
        continue;
      }
      if (decided->passed) {
        if (!decided->replayed) metrics_.throttle_passed.Increment();
        continue;
      }
      records.push_back(messages::RecordNotDeliveredCommand(KeysOf(static_cast<int>(entries[i].stream_index)),
                                                            throttle.record, {options_.message_retention_ms}));
      record_entry.push_back(i);
      record_throttle.push_back(&throttle);
    }
  }
  if (!records.empty()) {
    std::vector<absl::StatusOr<redis::Reply>> recorded = client.Pipeline(records);
    for (size_t n = 0; n < recorded.size(); ++n) {
      if (!recorded[n].ok()) {
        throttles_ok[record_entry[n]] = failed(recorded[n].status(), {record_throttle[n]->record.workflow_run_id,
                                                                      record_throttle[n]->record.message_id});
      } else if (recorded[n]->integer == 1) {
        metrics_.throttled.Increment();
      }
    }
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!decoded[i]) continue;
    const EntryWrites& entry = writes[i];
    bool ok = throttles_ok[i];
    for (size_t c = entry.first_command; c < entry.end_command; ++c) {
      if (!results[c].ok()) ok = failed(results[c].status(), SubjectOf(entry.plan, c - entry.first_command));
    }
    auto insert = insert_command.find(static_cast<int>(entries[i].stream_index));
    if (insert != insert_command.end() && !results[insert->second].ok()) ok = failed(results[insert->second].status());
    if (!ok) continue;  // retried as a whole: counted when it lands
    done.push_back(&entries[i]);
    // Counted once their writes landed; a record or message already there
    // (a replayed entry) is a duplicate, not a second message.
    size_t c = entry.first_command;
    for (const NotSent& not_sent : entry.plan.not_sent) {
      if (results[c++]->integer == 0) {
        metrics_.duplicate.Increment();
      } else if (not_sent.reason != NotSentReason::kUnknownWorkflow) {
        metrics_.messages.NotSent(not_sent.record.channel_type, not_sent.reason).Increment();
      }
    }
    for (const messages::QueuedMessage& queued : entry.plan.queued) {
      if (results[c++]->integer == 1) {
        metrics_.messages.Sent(queued.channel_type).Increment();
      } else {
        metrics_.duplicate.Increment();
      }
    }
    metrics_.batches.Increment();
    metrics_.waits.Increment(static_cast<double>(entry.plan.waits.size()));
    metrics_.skipped_condition.Increment(entry.plan.skipped_by_condition);
    metrics_.critical_bypassed.Increment(entry.plan.critical_bypasses);
  }
  RecycleFeedItems(items_by_partition);
  if (!first_error.ok()) {
    metrics_.errors.Increment();
    log::Error("fanout", "batch processing failed; entries stay pending and are retried",
               {log::Field::IfSet("workflow_run_id", first_error_subject.workflow_run_id),
                log::Field::IfSet("message_id", first_error_subject.message_id), {"error", first_error}});
  }
  return consumer.Ack(done);
}

void BatchProcessor::RecycleFeedItems(std::map<int, std::vector<feed::NewItem>>& items_by_partition) {
  // Bounds: at most this many spares, each of at most this many bytes
  // serialized (a cleared item keeps its strings' capacity), so the pool
  // stays within a few megabytes whatever one read held.
  constexpr size_t kMaxSpares = 4096;
  constexpr int kMaxSpareBytes = 2048;
  for (auto& [partition, items] : items_by_partition) {
    for (feed::NewItem& item : items) {
      if (spare_feed_items_.size() >= kMaxSpares) return;
      // The size StoredBody's serialization cached (0 if it never ran).
      if (item.item.GetCachedSize() > kMaxSpareBytes) continue;
      item.item.Clear();
      spare_feed_items_.push_back(std::move(item));
    }
  }
}

FanoutWorker::FanoutWorker(const redis::Endpoint& endpoint, const workflow::Registry& workflows, const Clock& clock,
                           FanoutOptions options, FanoutMetrics& metrics)
    : processor_(workflows, clock, options, metrics),
      worker_(endpoint,
              redis::StreamWorkerOptions{EveryPartition(options.partitions, &Keys::Batches), std::string(kFanoutGroup),
                                         "s", "fanout", options, /*batch_field=*/"",
                                         EveryPartition(options.partitions, &Keys::BatchesBulk)},
              clock, processor_, redis::StreamWorker::Counting(metrics.errors, metrics.reclaimed)) {}

}  // namespace herald::fanout
