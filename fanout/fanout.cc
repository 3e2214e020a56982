#include "fanout/fanout.h"

#include <algorithm>
#include <iostream>
#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "batcher/step_runner.h"
#include "batcher/wait_store.h"
#include "core/ids.h"
#include "core/keys.h"
#include "core/status_macros.h"
#include "fanout/channel_content.h"
#include "feed/feed_store.h"
#include "templates/markdown.h"

namespace herald::fanout {
namespace {

using nlohmann::json;

prometheus::Counter& Simple(prometheus::Registry& registry, const std::string& name, const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
}

prometheus::Family<prometheus::Counter>& MessagesFamily(prometheus::Registry& registry) {
  return prometheus::BuildCounter()
      .Name("herald_messages_total")
      .Help("Messages by channel type, status and reason")
      .Register(registry);
}

void LogError(const absl::Status& status, absl::string_view what) {
  std::cerr << "herald fanout: " << what << ": " << status << std::endl;
}

json ActorJson(const users::UserCache& users, const std::string& id) {
  if (id.empty()) return nullptr;
  const json* profile = users.Find(id);
  return profile != nullptr ? *profile : json{{"id", id}};
}

// Values shared by every recipient of one segment.
struct SegmentValues {
  json data;
  json actor;
  json actors;
  json activities;
  json total_activities;
  json total_actors;
  json tenant;
  json workflow;
  std::vector<std::string> actor_ids;
  const v1::internal::Activity* newest = nullptr;
};

SegmentValues BuildSegmentValues(const workflow::Workflow& workflow, v1::internal::SegmentEnvelope& segment,
                                 const users::UserCache& users) {
  auto& activities = *segment.mutable_activities();
  std::stable_sort(activities.begin(), activities.end(),
                   [](const v1::internal::Activity& a, const v1::internal::Activity& b) {
                     // Arrival order in the batch first: clocks of different
                     // api replicas may disagree by a few milliseconds.
                     if (a.sequence() != b.sequence()) return a.sequence() < b.sequence();
                     if (a.accepted_at_us() != b.accepted_at_us()) return a.accepted_at_us() < b.accepted_at_us();
                     return a.run_id() < b.run_id();
                   });
  int render_limit = std::max(1, activities.size());
  bool newest_first = false;
  int batch_step = segment.resume_step() - 1;
  if (batch_step >= 0 && batch_step < static_cast<int>(workflow.steps.size()) &&
      workflow.steps[batch_step].type == workflow::StepType::kBatch) {
    render_limit = workflow.steps[batch_step].batch.render_limit;
    newest_first = workflow.steps[batch_step].batch.newest_first;
  }
  SegmentValues values;
  values.newest = activities.empty() ? nullptr : &activities[activities.size() - 1];
  values.activities = json::array();
  absl::flat_hash_set<std::string> seen_actors;
  values.actors = json::array();
  for (const auto& activity : activities) {
    if (!activity.actor().empty() && seen_actors.insert(activity.actor()).second) {
      values.actor_ids.push_back(activity.actor());
      values.actors.push_back(ActorJson(users, activity.actor()));
    }
  }
  int count = activities.size();
  for (int n = 0; n < count && n < render_limit; ++n) {
    const auto& activity = activities[newest_first ? count - 1 - n : n];
    json data = json::parse(activity.data_json().empty() ? "{}" : activity.data_json(), nullptr, false);
    values.activities.push_back(json{{"actor", ActorJson(users, activity.actor())},
                                     {"data", data.is_discarded() ? json::object() : std::move(data)},
                                     {"inserted_at", activity.accepted_at_us() / 1000}});
  }
  values.total_activities = count;
  values.total_actors = values.actor_ids.size();
  if (values.newest != nullptr) {
    values.data = json::parse(values.newest->data_json().empty() ? "{}" : values.newest->data_json(), nullptr, false);
    if (values.data.is_discarded()) values.data = json::object();
    values.actor = ActorJson(users, values.newest->actor());
  } else {
    values.data = json::object();
  }
  values.tenant = segment.tenant().empty() ? json(nullptr) : json{{"id", segment.tenant()}};
  values.workflow = json{{"key", workflow.key}, {"name", workflow.name}};
  return values;
}

// Per recipient: their timezone for `date`, the workflow's strictness.
templates::RenderOptions RenderOptionsFor(const workflow::Workflow& workflow, const json& recipient) {
  templates::RenderOptions options;
  options.strict = workflow.strict_templates;
  auto timezone = recipient.find("timezone");
  if (timezone != recipient.end() && timezone->is_string()) options.timezone = timezone->get<std::string>();
  return options;
}

// Renders every block of an in-app message into `item`: markdown blocks to
// HTML (keeping the rendered markdown), text blocks as they are, button
// sets label by label. The first template error stops and is returned.
absl::Status RenderBlocks(const workflow::ChannelStep& channel, const templates::Context& context,
                          const templates::RenderOptions& options, v1::FeedItem* item) {
  for (const workflow::BlockTemplate& block : channel.blocks) {
    v1::FeedBlock* out = item->add_blocks();
    out->set_name(block.name);
    out->set_type(block.type);
    out->set_content(block.content.source());
    if (block.type == "button_set") {
      for (const workflow::ButtonTemplate& button : block.buttons) {
        v1::FeedButton* rendered = out->add_buttons();
        rendered->set_name(button.name);
        HERALD_RETURN_IF_ERROR(button.label.RenderTo(context, rendered->mutable_label(), options));
        HERALD_RETURN_IF_ERROR(button.action.RenderTo(context, rendered->mutable_action(), options));
      }
    } else if (block.type == "markdown") {
      HERALD_RETURN_IF_ERROR(block.content.RenderTo(context, out->mutable_markdown(), options));
      out->set_rendered(templates::MarkdownToHtml(out->markdown()));
    } else {
      HERALD_RETURN_IF_ERROR(block.content.RenderTo(context, out->mutable_rendered(), options));
    }
  }
  return absl::OkStatus();
}

templates::Context SharedContext(const SegmentValues& values) {
  templates::Context context;
  context.Set("data", &values.data);
  context.Set("actor", &values.actor);
  context.Set("actors", &values.actors);
  context.Set("activities", &values.activities);
  context.Set("total_activities", &values.total_activities);
  context.Set("total_actors", &values.total_actors);
  context.Set("tenant", &values.tenant);
  context.Set("workflow", &values.workflow);
  return context;
}

enum class CommandKind { kInsert, kRecord, kQueue, kWait, kOther };

}  // namespace

namespace {
constexpr const char* kChannelTypes[] = {"in_app_feed", "email", "sms", "push", "chat"};
}  // namespace

MessageCounters::MessageCounters(prometheus::Registry& registry) {
  auto& family = MessagesFamily(registry);
  for (int t = 0; t < kTypeCount; ++t) {
    std::string type = kChannelTypes[t];
    std::string sent = type == "in_app_feed" ? "delivered" : "queued";
    counters_[t][kSent] = &family.Add({{"channel_type", type}, {"status", sent}, {"reason", ""}});
    counters_[t][kUnknownRecipient] =
        &family.Add({{"channel_type", type}, {"status", "not_sent"}, {"reason", "unknown_recipient"}});
    counters_[t][kPreference] = &family.Add({{"channel_type", type}, {"status", "not_sent"}, {"reason", "preference"}});
    counters_[t][kMissingChannelData] =
        &family.Add({{"channel_type", type}, {"status", "not_sent"}, {"reason", "missing_channel_data"}});
    counters_[t][kTemplateError] =
        &family.Add({{"channel_type", type}, {"status", "undelivered"}, {"reason", "template_error"}});
  }
}

prometheus::Counter& MessageCounters::operator()(const std::string& channel_type, Outcome outcome) {
  int t = 0;
  while (t < kTypeCount - 1 && channel_type != kChannelTypes[t]) ++t;
  return *counters_[t][outcome];
}

FanoutMetrics::FanoutMetrics(prometheus::Registry& registry)
    : segments(Simple(registry, "herald_fanout_segments_total", "Segments (flushed batches or direct runs) fanned out")),
      messages(registry),
      duplicate(Simple(registry, "herald_fanout_duplicate_messages_total",
                       "Messages already written (a replayed entry); nothing written again")),
      critical_bypassed(Simple(registry, "herald_critical_preference_bypasses_total",
                               "Messages of critical workflows sent although a preference opted out")),
      skipped_condition(Simple(registry, "herald_fanout_steps_skipped_total", "Channel steps skipped by a condition")),
      waits(Simple(registry, "herald_fanout_waits_total", "Runs handed back to a later batch/delay step")),
      poison_entries(Simple(registry, "herald_fanout_poison_entries_total",
                            "Segment entries that could not be decoded (acked and dropped)")),
      reclaimed(Simple(registry, "herald_fanout_reclaimed_entries_total",
                       "Segment entries taken over from a stalled consumer")),
      errors(Simple(registry, "herald_fanout_errors_total", "Redis errors in the fan-out (entries retried)")),
      trigger_to_feed_seconds(prometheus::BuildHistogram()
                                  .Name("herald_trigger_to_feed_seconds")
                                  .Help("From trigger accepted to feed item written (newest activity)")
                                  .Register(registry)
                                  .Add({}, prometheus::Histogram::BucketBoundaries{
                                               0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
                                               10, 30, 60, 300, 3600})) {}

std::vector<std::string> SegmentStreams(int partitions) {
  std::vector<std::string> streams;
  for (int p = 0; p < partitions; ++p) streams.push_back(Keys(p).Segments());
  return streams;
}

std::string MessageId(const std::string& segment_id, int step, const std::string& channel) {
  return DeterministicId({segment_id, std::to_string(step), channel});
}

SegmentProcessor::SegmentProcessor(const workflow::Registry& workflows, const Clock& clock,
                                   const FanoutOptions& options, FanoutMetrics& metrics)
    : workflows_(workflows),
      clock_(clock),
      options_(options),
      metrics_(metrics),
      users_(clock, options.partitions, users::UserCache::ChannelData::kLoad, options.user_cache_ttl_ms * 1000),
      preferences_(clock, options.partitions, options.user_cache_ttl_ms * 1000),
      tenants_(clock, options.partitions, options.user_cache_ttl_ms * 1000) {}

absl::Status SegmentProcessor::Process(redis::RedisClient& client, redis::StreamConsumer& consumer,
                                       const std::vector<redis::StreamEntry>& entries) {
  std::vector<v1::internal::SegmentEnvelope> segments(entries.size());
  std::vector<bool> decoded(entries.size(), false);
  std::vector<std::string> ids;
  std::vector<std::pair<std::string, std::string>> preference_targets;  // (recipient, tenant)
  std::vector<std::string> tenant_ids;
  for (size_t i = 0; i < entries.size(); ++i) {
    decoded[i] = segments[i].ParseFromString(entries[i].payload);
    if (!decoded[i]) continue;
    tenant_ids.push_back(segments[i].tenant());
    for (const auto& target : segments[i].targets()) {
      ids.push_back(target.recipient());
      preference_targets.emplace_back(target.recipient(), segments[i].tenant());
    }
    for (const auto& activity : segments[i].activities()) {
      if (!activity.actor().empty()) ids.push_back(activity.actor());
    }
  }
  HERALD_RETURN_IF_ERROR(users_.Prefetch(client, ids));
  HERALD_RETURN_IF_ERROR(preferences_.Prefetch(client, preference_targets));
  HERALD_RETURN_IF_ERROR(tenants_.Prefetch(client, tenant_ids));

  std::vector<redis::Command> commands;
  std::vector<CommandKind> kinds;
  std::vector<std::pair<size_t, size_t>> ranges(entries.size());
  std::vector<const redis::StreamEntry*> done;
  // Feed items of the whole read, per partition: one insert script call per
  // partition, however many segments and recipients the read held.
  std::map<int, std::vector<feed::NewItem>> items_by_partition;
  absl::flat_hash_map<size_t, std::string> queued_types;  // queue command -> its channel type
  int64_t now_us = clock_.NowMicros();
  auto add = [&](redis::Command command, CommandKind kind) {
    commands.push_back(std::move(command));
    kinds.push_back(kind);
  };

  for (size_t i = 0; i < entries.size(); ++i) {
    ranges[i].first = commands.size();
    if (!decoded[i]) {
      metrics_.poison_entries.Increment();
      done.push_back(&entries[i]);
      ranges[i].second = commands.size();
      continue;
    }
    metrics_.segments.Increment();
    v1::internal::SegmentEnvelope& segment = segments[i];
    const Keys keys(static_cast<int>(entries[i].stream_index));
    const workflow::Workflow* workflow = workflows_.Find(segment.workflow());
    if (workflow == nullptr) {
      for (const auto& target : segment.targets()) {
        add(feed::RecordNotDeliveredCommand(
                keys, feed::NotDelivered{DeterministicId({target.segment_id(), "workflow"}), target.recipient(),
                                         segment.workflow(), segment.tenant(), "", "not_sent", "unknown_workflow",
                                         now_us, ""}), CommandKind::kRecord);
      }
      ranges[i].second = commands.size();
      continue;
    }
    SegmentValues values = BuildSegmentValues(*workflow, segment, users_);
    if (const json* tenant = tenants_.Find(segment.tenant())) values.tenant = *tenant;
    templates::Context shared = SharedContext(values);
    int64_t accepted = values.newest != nullptr ? values.newest->accepted_at_us() : 0;
    std::string data_json = values.newest != nullptr ? values.newest->data_json() : "{}";

    for (const auto& target : segment.targets()) {
      const json* profile = users_.Find(target.recipient());
      json unknown = {{"id", target.recipient()}};
      templates::Context context = shared;
      context.Set("recipient", profile != nullptr ? profile : &unknown);
      for (int step_index = segment.resume_step(); step_index < static_cast<int>(workflow->steps.size());
           ++step_index) {
        const workflow::Step& step = workflow->steps[step_index];
        if (step.is_wait()) {
          step_index = batcher::NextActionableStep(*workflow, step_index, context);
          if (step_index >= static_cast<int>(workflow->steps.size())) break;
          if (workflow->steps[step_index].is_wait()) {
            // Hand the run to the next wait: the segment id is its run id.
            v1::internal::Activity activity = values.newest != nullptr ? *values.newest : v1::internal::Activity();
            activity.set_run_id(target.segment_id());
            batcher::RunRef run{target.recipient(), segment.tenant(), segment.cancellation_key(), target.segment_id()};
            add(batcher::AppendCommand(keys, batcher::BuildWaitAppend(*workflow, step_index, run, activity, context,
                                                                      now_us / 1000, options_.run_ttl_seconds)), CommandKind::kWait);
            metrics_.waits.Increment();
            break;
          }
        }
        const workflow::Step& channel_step = workflow->steps[step_index];
        if (!channel_step.conditions.Evaluate(context)) {
          metrics_.skipped_condition.Increment();
          continue;
        }
        const workflow::ChannelStep& channel = channel_step.channel;
        const std::string& type = channel.channel_type;
        std::string message_id = MessageId(target.segment_id(), step_index, channel.channel);
        auto not_sent = [&](const char* status, std::string reason, std::string rule) {
          feed::NotDelivered record{message_id, target.recipient(), workflow->key, segment.tenant(), channel.channel,
                                    status, std::move(reason), now_us, std::move(rule), type};
          add(feed::RecordNotDeliveredCommand(keys, record), CommandKind::kRecord);
        };
        if (profile == nullptr) {
          not_sent("not_sent", "unknown_recipient", "");
          metrics_.messages(type, MessageCounters::kUnknownRecipient).Increment();
          continue;
        }
        preferences::Decision decision = preferences::Evaluate(
            preferences::Question{workflow->key, workflow->categories, type, workflow->critical},
            preferences_.Find(target.recipient(), segment.tenant(), options_.default_preferences.get()), context);
        if (!decision.send) {
          not_sent("not_sent", "preference", decision.decided_by);
          metrics_.messages(type, MessageCounters::kPreference).Increment();
          continue;
        }
        std::string preferences_note;
        if (workflow->critical) {
          preferences_note = decision.bypassed.empty() ? "critical_workflow"
                                                       : absl::StrCat("critical_workflow: bypassed ", decision.bypassed);
        }
        if (type != "in_app_feed") {
          const json* channel_data = users_.FindChannelData(target.recipient(), channel.channel);
          std::string missing = MissingChannelData(channel, *profile, channel_data);
          if (!missing.empty()) {
            not_sent("not_sent", "missing_channel_data", missing);
            metrics_.messages(type, MessageCounters::kMissingChannelData).Increment();
            continue;
          }
          auto content = RenderContent(channel, context, RenderOptionsFor(*workflow, *profile), *profile, channel_data);
          if (!content.ok()) {
            not_sent("undelivered", absl::StrCat("template_error: ", content.status().message()), "");
            metrics_.messages(type, MessageCounters::kTemplateError).Increment();
            continue;
          }
          feed::QueuedMessage queued{message_id, target.recipient(), workflow->key, segment.tenant(), channel.channel,
                                     type, std::move(*content), preferences_note, accepted, now_us};
          queued_types[commands.size()] = type;
          add(feed::QueueMessageCommand(keys, queued), CommandKind::kQueue);
          if (workflow->critical && !decision.bypassed.empty()) metrics_.critical_bypassed.Increment();
          continue;
        }
        std::vector<feed::NewItem>& items = items_by_partition[keys.partition()];
        feed::NewItem& pending = items.emplace_back();
        v1::FeedItem& item = pending.item;
        absl::Status rendered = RenderBlocks(channel, context, RenderOptionsFor(*workflow, *profile), &item);
        if (!rendered.ok()) {
          items.pop_back();
          not_sent("undelivered", absl::StrCat("template_error: ", rendered.message()), "");
          metrics_.messages(type, MessageCounters::kTemplateError).Increment();
          continue;
        }
        item.set_id(message_id);
        item.set_workflow(workflow->key);
        item.set_tenant(segment.tenant());
        for (const std::string& actor : values.actor_ids) item.add_actors(actor);
        item.set_total_activities(segment.activities_size());
        item.set_total_actors(static_cast<int64_t>(values.actor_ids.size()));
        item.set_data_json(data_json);
        item.set_inserted_at_ms(now_us / 1000);
        pending.recipient = target.recipient();
        pending.channel = channel.channel;
        pending.accepted_at_us = accepted;
        pending.inserted_at_us = now_us;
        pending.preferences = preferences_note;
        if (workflow->critical && !decision.bypassed.empty()) metrics_.critical_bypassed.Increment();
      }
    }
    ranges[i].second = commands.size();
  }

  std::map<int, size_t> insert_command;  // partition -> its insert command
  for (const auto& [partition, items] : items_by_partition) {
    insert_command[partition] = commands.size();
    add(feed::InsertManyCommand(Keys(partition), items), CommandKind::kInsert);
  }
  std::vector<absl::StatusOr<redis::Reply>> results;
  if (!commands.empty()) results = client.Pipeline(commands);
  absl::Status first_error;
  for (const auto& [partition, c] : insert_command) {
    if (!results[c].ok()) continue;
    const std::vector<feed::NewItem>& items = items_by_partition[partition];
    for (size_t n = 0; n < results[c]->elements.size() && n < items.size(); ++n) {
      if (results[c]->elements[n].integer > 0) {
        metrics_.messages("in_app_feed", MessageCounters::kSent).Increment();
        if (items[n].accepted_at_us > 0) {
          metrics_.trigger_to_feed_seconds.Observe((now_us - items[n].accepted_at_us) / 1e6);
        }
      } else {
        metrics_.duplicate.Increment();
      }
    }
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!decoded[i]) continue;
    bool ok = true;
    for (size_t c = ranges[i].first; c < ranges[i].second; ++c) {
      if (!results[c].ok()) {
        ok = false;
        if (first_error.ok()) first_error = results[c].status();
        continue;
      }
      if (kinds[c] == CommandKind::kQueue) {
        if (results[c]->integer == 1) {
          metrics_.messages(queued_types[c], MessageCounters::kSent).Increment();
        } else {
          metrics_.duplicate.Increment();
        }
      }
    }
    // The entry's feed items went out in its partition's insert.
    auto insert = insert_command.find(static_cast<int>(entries[i].stream_index));
    if (insert != insert_command.end() && !results[insert->second].ok()) {
      ok = false;
      if (first_error.ok()) first_error = results[insert->second].status();
    }
    if (ok) done.push_back(&entries[i]);
  }
  if (!first_error.ok()) {
    metrics_.errors.Increment();
    LogError(first_error, "segment processing failed; entries stay pending and are retried");
  }
  return consumer.Ack(done);
}

FanoutWorker::FanoutWorker(const redis::Endpoint& endpoint, const workflow::Registry& workflows, const Clock& clock,
                           FanoutOptions options, FanoutMetrics& metrics)
    : processor_(workflows, clock, options, metrics),
      worker_(endpoint,
              redis::StreamWorkerOptions{SegmentStreams(options.partitions), std::string(kFanoutGroup),
                                         options.consumer_name, "s", options.read_count, options.block_ms,
                                         options.reclaim_idle_ms, options.reclaim_every_ms, "herald fanout"},
              clock, processor_, redis::StreamWorker::Counting(metrics.errors, metrics.reclaimed)) {}

}  // namespace herald::fanout
