#include "fanout/batch_plan.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "core/feed_names.h"
#include "core/ids.h"
#include "core/keys.h"
#include "core/status_macros.h"
#include "fanout/batch_renderer.h"
#include "fanout/channel_content.h"
#include "runs/step_runner.h"

namespace herald::fanout {
namespace {

using nlohmann::json;

json ActorJson(const UserDirectory& users, const std::string& id) {
  if (id.empty()) return nullptr;
  const json* profile = users.Find(id);
  return profile != nullptr ? *profile : json{{"id", id}};
}

// Values shared by every recipient of one batch.
struct BatchValues {
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

BatchValues BuildBatchValues(const workflow::Workflow& workflow, v1::internal::BatchEnvelope& envelope,
                                 const UserDirectory& users) {
  auto& activities = *envelope.mutable_activities();
  auto earlier = [](const v1::internal::Activity& a, const v1::internal::Activity& b) {
    // Arrival order in the batch first: clocks of different api replicas
    // may disagree by a few milliseconds.
    if (a.sequence() != b.sequence()) return a.sequence() < b.sequence();
    if (a.accepted_at_us() != b.accepted_at_us()) return a.accepted_at_us() < b.accepted_at_us();
    return a.run_id() < b.run_id();
  };
  // Mostly in order already; a sort moves messages, which copies them when
  // the envelope lives on an arena (fanout.cc).
  if (!std::is_sorted(activities.begin(), activities.end(), earlier)) {
    std::stable_sort(activities.begin(), activities.end(), earlier);
  }
  int render_limit = std::max(1, activities.size());
  bool newest_first = false;
  // The wait this batch comes out of (an older Herald's header: the step
  // before the resume step).
  int batch_step = envelope.has_wait_step() ? envelope.wait_step() : envelope.resume_step() - 1;
  // A fallback envelope resumes at the fallback step itself: its batch
  // settings are those of the wait that began the step's part of the run.
  if (envelope.only_step()) {
    batch_step = std::min(batch_step, static_cast<int>(workflow.steps.size()) - 1);
    while (batch_step >= 0 && !workflow.steps[batch_step].is_wait()) --batch_step;
  }
  if (batch_step >= 0 && batch_step < static_cast<int>(workflow.steps.size()) &&
      workflow.steps[batch_step].type == workflow::StepType::kBatch) {
    render_limit = workflow.steps[batch_step].batch.render_limit;
    newest_first = workflow.steps[batch_step].batch.newest_first;
  }
  BatchValues values;
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
  auto parse_data = [](const v1::internal::Activity& activity) {
    json data = json::parse(activity.data_json().empty() ? "{}" : activity.data_json(), nullptr, false);
    return data.is_discarded() ? json::object() : data;
  };
  // The newest activity's data is `data` and usually in `activities` too:
  // parsed once (a direct run's batch has that one activity only).
  if (values.newest != nullptr) {
    values.data = parse_data(*values.newest);
    values.actor = ActorJson(users, values.newest->actor());
  } else {
    values.data = json::object();
  }
  int count = activities.size();
  for (int n = 0; n < count && n < render_limit; ++n) {
    const auto& activity = activities[newest_first ? count - 1 - n : n];
    values.activities.push_back(json{{"actor", ActorJson(users, activity.actor())},
                                     {"data", &activity == values.newest ? values.data : parse_data(activity)},
                                     {"inserted_at", activity.accepted_at_us() / 1000}});
  }
  values.total_activities = count;
  values.total_actors = values.actor_ids.size();
  values.tenant = envelope.tenant().empty() ? json(nullptr) : json{{"id", envelope.tenant()}};
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

// Renders every block of an in-app message into `item`: markdown blocks
// into `markdown` only (the feed stores no HTML for them and renders it
// from the markdown when an item is read, feed::ItemFromFields; rendering
// it here per recipient was a tenth of the fan-out's CPU, thrown away),
// text blocks into `rendered`, button sets label by label. The first
// template error stops and is returned.
absl::Status RenderBlocks(const workflow::ChannelStep& channel, const templates::Context& context,
                          const templates::RenderOptions& options, BatchRenderer& renderer, v1::FeedItem* item) {
  for (const workflow::BlockTemplate& block : channel.blocks) {
    v1::FeedBlock* out = item->add_blocks();
    out->set_name(block.name);
    out->set_type(block.type);
    // No `content` (the template source): the feed never stores it.
    if (block.type == "button_set") {
      for (const workflow::ButtonTemplate& button : block.buttons) {
        v1::FeedButton* rendered = out->add_buttons();
        rendered->set_name(button.name);
        HERALD_RETURN_IF_ERROR(renderer.RenderTo(button.label, context, options, rendered->mutable_label()));
        HERALD_RETURN_IF_ERROR(renderer.RenderTo(button.action, context, options, rendered->mutable_action()));
      }
    } else if (block.type == "markdown") {
      HERALD_RETURN_IF_ERROR(renderer.RenderTo(block.content, context, options, out->mutable_markdown()));
    } else {
      HERALD_RETURN_IF_ERROR(renderer.RenderTo(block.content, context, options, out->mutable_rendered()));
    }
  }
  return absl::OkStatus();
}

templates::Context SharedContext(const BatchValues& values) {
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

// Plans the recipients of a batch, one by one: every channel step from the
// batch's resume step until the run finishes or reaches its next wait.
class RecipientPlanner {
 public:
  RecipientPlanner(const PlanContext& context, const workflow::Workflow& workflow,
                   const v1::internal::BatchEnvelope& batch, const BatchValues& values,
                   const templates::Context& shared, int64_t now_us, BatchPlan* plan)
      : context_(context), workflow_(workflow), batch_(batch), values_(values), recipient_context_(shared),
        now_us_(now_us), plan_(plan) {
    recipient_context_.Set("recipient", nullptr);
    recipient_context_.Set("refs", &refs_);
  }

  void Plan(const v1::internal::BatchEnvelope::Target& target) {
    const json* profile = context_.users.Find(target.recipient());
    if (profile == nullptr) unknown_recipient_ = json{{"id", target.recipient()}};
    // One context for every recipient, rebound rather than copied.
    templates::Context& context = recipient_context_;
    context.Rebind("recipient", profile != nullptr ? profile : &unknown_recipient_);
    step_messages_.clear();
    if (values_.newest != nullptr) step_messages_ = values_.newest->step_messages();
    unsynced_refs_.clear();
    refs_ = RefsJson(step_messages_, context_.message_states);
    const int steps = static_cast<int>(workflow_.steps.size());
    if (batch_.only_step()) {
      // A fallback started after its primary message ended undelivered.
      int step_index = batch_.resume_step();
      if (step_index >= 0 && step_index < steps && !workflow_.steps[step_index].is_wait()) {
        PlanStep(target, step_index, profile, context, 0);
      }
      return;
    }
    int step_index = batch_.resume_step();
    while (step_index >= 0 && step_index < steps) {
      const workflow::Step& at = workflow_.steps[step_index];
      // Waits, throttles and branches decide on what the steps before
      // planned; a channel step syncs for itself (PlanStep).
      if (at.type != workflow::StepType::kChannel || at.fallback_only) SyncRefs();
      step_index = runs::NextActionableStep(workflow_, step_index, context, now_us_ / 1000);
      if (step_index >= steps) break;
      const workflow::Step& step = workflow_.steps[step_index];
      if (step.is_wait()) {
        HandToWait(target, step_index, context);
        break;
      }
      if (step.type == workflow::StepType::kThrottle) {
        HandToThrottle(target, step_index, context);
        break;
      }
      PlanStep(target, step_index, profile, context, 0);
      step_index = step.next;
    }
  }

 private:
  // Plans channel step `step_index` if its conditions hold, and its
  // fallback at once when its message is not sent here and now.
  void PlanStep(const v1::internal::BatchEnvelope::Target& target, int step_index, const json* profile,
                const templates::Context& context, int depth) {
    SyncRefs();  // what the steps before planned, for this step's conditions and templates
    const workflow::Step& step = workflow_.steps[step_index];
    if (!step.conditions.Evaluate(context)) {
      ++plan_->skipped_by_condition;
      return;
    }
    bool sent = PlanMessage(target, step_index, step, profile, context);
    int fallback = step.channel.fallback_step;
    // The parser refuses fallback cycles; the depth bound is a backstop.
    if (!sent && fallback >= 0 && depth < static_cast<int>(workflow_.steps.size())) {
      PlanStep(target, fallback, profile, context, depth + 1);
    }
  }

  // The run Trigger returned: a direct target's own, else the run that
  // opened the batch (its oldest activity), else (records written before
  // runs were carried) the batch id.
  std::string WorkflowRunId(const v1::internal::BatchEnvelope::Target& target) const {
    if (!target.workflow_run_id().empty()) return target.workflow_run_id();
    for (const v1::internal::Activity& activity : batch_.activities()) {
      if (!activity.workflow_run_id().empty()) return activity.workflow_run_id();
    }
    return target.batch_id();
  }

  // The run continues in a later batch or delay: the batch id is its run id.
  void HandToWait(const v1::internal::BatchEnvelope::Target& target, int step_index,
                  const templates::Context& context) {
    SyncRefs();
    v1::internal::Activity activity = values_.newest != nullptr ? *values_.newest : v1::internal::Activity();
    activity.set_run_id(target.batch_id());
    activity.set_workflow_run_id(WorkflowRunId(target));
    *activity.mutable_step_messages() = step_messages_;
    runs::RunRef run{target.recipient(), batch_.tenant(), batch_.cancellation_key(), target.batch_id()};
    plan_->waits.push_back(
        runs::BuildWaitAppend(workflow_, step_index, run, activity, context, now_us_ / 1000, context_.run_ttl_seconds));
  }

  // The run reaches a throttle step: the throttle script counts it and, if
  // it passes, hands it on (resume at the step after the throttle) with the
  // batch's activities and the messages of the steps before; if it is
  // throttled, the run stops and `record` says so.
  void HandToThrottle(const v1::internal::BatchEnvelope::Target& target, int step_index,
                      const templates::Context& context) {
    SyncRefs();
    const workflow::Step& step = workflow_.steps[step_index];
    std::string key;
    // Non-strict rendering cannot fail; a problem leaves the key empty.
    (void)step.throttle.key.RenderTo(context, &key);
    v1::internal::BatchEnvelope envelope = batch_;
    envelope.clear_targets();
    envelope.set_only_step(false);
    envelope.set_resume_step(step.next);
    if (!batch_.has_wait_step()) envelope.set_wait_step(batch_.resume_step() - 1);
    if (envelope.activities_size() > 0) {
      *envelope.mutable_activities(envelope.activities_size() - 1)->mutable_step_messages() = step_messages_;
    }
    const std::string step_text = std::to_string(step_index);
    auto* out = envelope.add_targets();
    out->set_recipient(target.recipient());
    out->set_batch_id(DeterministicId({target.batch_id(), "throttle", step_text}));
    out->set_workflow_run_id(WorkflowRunId(target));
    PlannedThrottle planned;
    planned.check.digest = DeterministicId({workflow_.key, step.ref, target.recipient(), key});
    planned.check.run_id = target.batch_id();
    planned.check.step = step_index;
    planned.check.limit = step.throttle.limit;
    planned.check.window_ms = absl::ToInt64Milliseconds(step.throttle.window);
    planned.check.now_ms = now_us_ / 1000;
    planned.check.envelope_blob = envelope.SerializeAsString();
    planned.check.run_ttl_seconds = context_.run_ttl_seconds;
    planned.record = messages::NotDelivered{DeterministicId({target.batch_id(), "throttled", step_text}),
                                            target.recipient(), workflow_.key, batch_.tenant(), "", "not_sent",
                                            "throttled", now_us_,
                                            absl::StrCat("throttle ", step.ref, ": ", step.Summary()), "",
                                            WorkflowRunId(target)};
    plan_->throttles.push_back(std::move(planned));
  }

  // Records the message step `ref` made for this run, for later steps.
  // step_messages_ and `refs` (what conditions and templates read) are
  // brought up to date only when something later reads them (SyncRefs):
  // a run's last message, the only one in most workflows, needs neither.
  void Remember(const std::string& ref, const std::string& message_id, const char* status) {
    unsynced_refs_.push_back(UnsyncedRef{&ref, message_id, status});
  }

  void SyncRefs() {
    for (UnsyncedRef& unsynced : unsynced_refs_) {
      AddRef(*unsynced.step_ref, unsynced.message_id, unsynced.status, &refs_);
      step_messages_[*unsynced.step_ref] = std::move(unsynced.message_id);
    }
    unsynced_refs_.clear();
  }

  // Plans the message of one channel step; false when it is not sent
  // (not_sent, or undelivered by a template error), true when it is in the
  // feed or queued for delivery.
  bool PlanMessage(const v1::internal::BatchEnvelope::Target& target, int step_index, const workflow::Step& step,
                   const json* profile, const templates::Context& context) {
    const workflow::ChannelStep& channel = step.channel;
    const std::string& type = channel.channel_type;
    std::string message_id = MessageId(target.batch_id(), step_index, channel.channel);
    auto not_sent = [&](NotSentReason reason, const char* status, std::string why, std::string rule) {
      plan_->not_sent.push_back(NotSent{messages::NotDelivered{message_id, target.recipient(), workflow_.key,
                                                               batch_.tenant(), channel.channel, status,
                                                               std::move(why), now_us_, std::move(rule), type, WorkflowRunId(target)},
                                        reason});
      Remember(step.ref, message_id, status);
      return false;
    };
    if (profile == nullptr) return not_sent(NotSentReason::kUnknownRecipient, "not_sent", "unknown_recipient", "");
    preferences::Decision decision = preferences::Evaluate(
        preferences::Question{workflow_.key, workflow_.categories, type, workflow_.critical},
        context_.preferences.Find(target.recipient(), batch_.tenant(), context_.default_preferences), context);
    if (!decision.send) return not_sent(NotSentReason::kPreference, "not_sent", "preference", decision.decided_by);
    std::string preferences_note;
    if (workflow_.critical) {
      preferences_note =
          decision.bypassed.empty() ? "critical_workflow" : absl::StrCat("critical_workflow: bypassed ", decision.bypassed);
    }
    const int64_t accepted = values_.newest != nullptr ? values_.newest->accepted_at_us() : 0;
    if (type != "in_app_feed") {
      const json* channel_data = context_.users.FindChannelData(target.recipient(), channel.channel);
      std::string missing = MissingChannelData(channel, *profile, channel_data);
      if (!missing.empty()) return not_sent(NotSentReason::kMissingChannelData, "not_sent", "missing_channel_data", missing);
      auto content =
          RenderContent(channel, context, RenderOptionsFor(workflow_, *profile), *profile, channel_data, message_id);
      if (!content.ok()) {
        return not_sent(NotSentReason::kTemplateError, "undelivered",
                        absl::StrCat("template_error: ", content.status().message()), "");
      }
      Remember(step.ref, message_id, "queued");
      std::string fallback;
      if (channel.fallback_step >= 0) {
        SyncRefs();  // the envelope carries this step's message too
        fallback = FallbackEnvelope(batch_, target, channel.fallback_step, step_messages_);
      }
      plan_->queued.push_back(messages::QueuedMessage{message_id, target.recipient(), workflow_.key, batch_.tenant(),
                                                      channel.channel, type, std::move(*content), preferences_note,
                                                      accepted, now_us_, WorkflowRunId(target), std::move(fallback)});
    } else {
      feed::NewItem pending;
      if (context_.spare_feed_items != nullptr && !context_.spare_feed_items->empty()) {
        pending = std::move(context_.spare_feed_items->back());  // cleared: every field is set below
        context_.spare_feed_items->pop_back();
      }
      v1::FeedItem& item = pending.item;
      absl::Status rendered = RenderBlocks(channel, context, RenderOptionsFor(workflow_, *profile), renderer_, &item);
      if (!rendered.ok()) {
        return not_sent(NotSentReason::kTemplateError, "undelivered",
                        absl::StrCat("template_error: ", rendered.message()), "");
      }
      item.set_id(message_id);
      item.set_workflow(workflow_.key);
      item.set_tenant(batch_.tenant());
      for (const std::string& actor : values_.actor_ids) item.add_actors(actor);
      item.set_total_activities(batch_.activities_size());
      item.set_total_actors(static_cast<int64_t>(values_.actor_ids.size()));
      item.set_data_json(values_.newest != nullptr ? values_.newest->data_json() : "{}");
      item.set_inserted_at_ms(now_us_ / 1000);
      pending.recipient = target.recipient();
      pending.channel = channel.channel;
      pending.accepted_at_us = accepted;
      pending.inserted_at_us = now_us_;
      pending.preferences = std::move(preferences_note);
      pending.workflow_run_id = WorkflowRunId(target);
      // The main feed travels as '' (its keys predate named feeds).
      if (channel.feed == kMainFeed) pending.feed.clear();
      else pending.feed = channel.feed;
      plan_->feed_items.push_back(std::move(pending));
      Remember(step.ref, message_id, "delivered");
    }
    if (workflow_.critical && !decision.bypassed.empty()) ++plan_->critical_bypasses;
    return true;
  }

  const PlanContext& context_;
  const workflow::Workflow& workflow_;
  const v1::internal::BatchEnvelope& batch_;
  const BatchValues& values_;
  // The batch's shared roots, then `recipient` and `refs` (rebound per target).
  templates::Context recipient_context_;
  const int64_t now_us_;
  BatchPlan* plan_;
  BatchRenderer renderer_;
  // The current target's profile when the user is unknown: {"id": ...}.
  json unknown_recipient_;
  // The current target's step ref -> message id, carried to later steps.
  StepMessages step_messages_;
  // The current target's `refs` root; what Remember added to it and to
  // step_messages_ since SyncRefs.
  json refs_;
  struct UnsyncedRef {
    const std::string* step_ref;  // the workflow step's ref
    std::string message_id;
    const char* status;
  };
  std::vector<UnsyncedRef> unsynced_refs_;
};

}  // namespace

std::string MessageId(const std::string& batch_id, int step, const std::string& channel) {
  return DeterministicId({batch_id, std::to_string(step), channel});
}

BatchPlan PlanBatch(const PlanContext& context, v1::internal::BatchEnvelope& batch, int64_t now_us) {
  BatchPlan plan;
  const workflow::Workflow* workflow = context.workflows.Find(batch.workflow());
  if (workflow == nullptr) {
    // The workflow was removed after the trigger was accepted: record it.
    for (const auto& target : batch.targets()) {
      plan.not_sent.push_back(NotSent{
          messages::NotDelivered{DeterministicId({target.batch_id(), "workflow"}), target.recipient(),
                                 batch.workflow(), batch.tenant(), "", "not_sent", "unknown_workflow", now_us, "", "",
                                 target.workflow_run_id().empty() ? target.batch_id() : target.workflow_run_id()},
          NotSentReason::kUnknownWorkflow});
    }
    return plan;
  }
  BatchValues values = BuildBatchValues(*workflow, batch, context.users);
  if (const json* tenant = context.tenants.Find(batch.tenant())) values.tenant = *tenant;
  templates::Context shared = SharedContext(values);
  RecipientPlanner planner(context, *workflow, batch, values, shared, now_us, &plan);
  for (const auto& target : batch.targets()) planner.Plan(target);
  return plan;
}

}  // namespace herald::fanout
