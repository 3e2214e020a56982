// The fan-out's decisions for one batch, with map-backed directories and
// workflows parsed from YAML: what each recipient gets (feed item, queued
// message, not_sent/undelivered record, hand-off to a later wait), and the
// rendered text they get it with. No Redis.
#include "fanout/batch_plan.h"

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/ids.h"
#include "fanout/plan_test_fakes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "workflow/parser.h"

namespace herald::fanout {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A batch step then a feed item that shows every batch variable and the
// tenant's branding.
constexpr char kComments[] = R"(
key: comments
name: Comments
categories: [collaboration]
steps:
  - ref: digest
    type: batch
    window: 30s
    batch_key: "{{ data.post_id }}"
  - ref: feed
    type: channel
    channel_type: in_app_feed
    template:
      markdown: "**{{ actor.name }}** and {{ total_activities }} comments by {% for a in actors %}{{ a.name }}{% unless forloop.last %}, {% endunless %}{% endfor %} ({{ total_actors }}) on {{ data.post_title }} at {{ tenant.name }} [{{ tenant.settings.branding.primary_color }}]"
      action_url: "/posts/{{ data.post_id }}"
)";

constexpr char kSecurity[] = R"(
key: security-alert
critical: true
categories: [security]
steps:
  - ref: feed
    type: channel
    channel_type: in_app_feed
    template:
      markdown: "New sign-in for {{ recipient.name }}"
)";

constexpr char kAlerts[] = R"(
key: alerts
steps:
  - ref: email
    type: channel
    channel_type: email
    template:
      subject: "{{ actor.name }} needs you on {{ data.topic }}"
      markdown: "Hi {{ recipient.name }}, **{{ data.topic }}**"
  - ref: push
    type: channel
    channel_type: push
    channel: apns
    template:
      title: "Alert"
      body: "{{ data.topic }}"
)";

constexpr char kStrict[] = R"(
key: strict
strict_templates: true
steps:
  - ref: feed
    type: channel
    channel_type: in_app_feed
    template:
      markdown: "Hello {{ recipient.name }}, about {{ data.missing_field }}"
  - ref: email
    type: channel
    channel_type: email
    template:
      subject: "Re {{ data.also_missing }}"
      html: "<p>x</p>"
)";

constexpr char kConditional[] = R"(
key: conditional
steps:
  - ref: feed
    type: channel
    channel_type: in_app_feed
    conditions:
      - {variable: data.priority, operator: equal_to, argument: high}
    template:
      markdown: "Urgent: {{ data.topic }}"
)";

// A feed item, then a wait before the email.
constexpr char kEscalateDelay[] = R"(
key: escalate-delay
steps:
  - ref: feed
    type: channel
    channel_type: in_app_feed
    template:
      markdown: "{{ data.topic }}"
  - ref: wait
    type: delay
    duration: 1h
  - ref: email
    type: channel
    channel_type: email
    template:
      subject: "Still waiting: {{ data.topic }}"
      html: "<p>{{ data.topic }}</p>"
)";

constexpr char kEscalateBatch[] = R"(
key: escalate-batch
steps:
  - ref: feed
    type: channel
    channel_type: in_app_feed
    template:
      markdown: "{{ data.topic }}"
  - ref: digest
    type: batch
    window: 2m
    batch_key: "{{ data.topic }}"
  - ref: email
    type: channel
    channel_type: email
    template:
      subject: "Digest"
      html: "<p>{{ total_activities }}</p>"
)";

// The delay applies only to low-priority runs.
constexpr char kSkippableWait[] = R"(
key: skippable-wait
steps:
  - ref: wait
    type: delay
    duration: 10m
    conditions:
      - {variable: data.priority, operator: equal_to, argument: low}
  - ref: email
    type: channel
    channel_type: email
    template:
      subject: "Now: {{ data.topic }}"
      html: "<p>x</p>"
)";

constexpr char kTwoFeeds[] = R"(
key: two-feeds
steps:
  - ref: first
    type: channel
    channel_type: in_app_feed
    template:
      markdown: "one"
  - ref: second
    type: channel
    channel_type: in_app_feed
    template:
      markdown: "two"
  - ref: sms
    type: channel
    channel_type: sms
    template:
      text: "three"
)";

constexpr int64_t kNowUs = 1'700'000'000'000'000;

std::unique_ptr<workflow::Registry> BuildRegistry() {
  auto registry = workflow::Registry::FromDocuments(
      {kComments, kSecurity, kAlerts, kStrict, kConditional, kEscalateDelay, kEscalateBatch, kSkippableWait, kTwoFeeds},
      "test.yaml");
  EXPECT_TRUE(registry.ok()) << registry.status();
  return registry.ok() ? std::move(*registry) : nullptr;
}

v1::internal::Activity MakeActivity(const std::string& run, const std::string& actor, const json& data,
                                    int64_t accepted_at_us, int64_t sequence) {
  v1::internal::Activity activity;
  activity.set_run_id(run);
  activity.set_actor(actor);
  activity.set_data_json(data.dump());
  activity.set_accepted_at_us(accepted_at_us);
  activity.set_sequence(sequence);
  return activity;
}

class BatchPlanTest : public ::testing::Test {
 protected:
  BatchPlanTest() : registry_(BuildRegistry()) {
    users_.Add("rita", {{"id", "rita"}, {"name", "Rita"}, {"email", "rita@example.com"}});
    users_.Add("nomail", {{"id", "nomail"}, {"name", "No Mail"}});
    users_.Add("ana", {{"id", "ana"}, {"name", "Ana"}});
    users_.Add("bo", {{"id", "bo"}, {"name", "Bo"}});
    users_.Add("cy", {{"id", "cy"}, {"name", "Cy"}});
    tenants_.Add("acme", {{"id", "acme"}, {"name", "Acme"}, {"settings", {{"branding", {{"primary_color", "#ff0000"}}}}}});
  }

  PlanContext Context() const { return PlanContext{*registry_, users_, preferences_, tenants_}; }

  // One batch of `workflow`, resumed at `resume_step`, for `recipients`
  // (batch ids "batch-<recipient>").
  static v1::internal::BatchEnvelope Envelope(const std::string& workflow, int resume_step,
                                              const std::vector<std::string>& recipients,
                                              std::vector<v1::internal::Activity> activities,
                                              const std::string& tenant = "") {
    v1::internal::BatchEnvelope envelope;
    envelope.set_workflow(workflow);
    envelope.set_tenant(tenant);
    envelope.set_resume_step(resume_step);
    for (const std::string& recipient : recipients) {
      auto* target = envelope.add_targets();
      target->set_recipient(recipient);
      target->set_batch_id("batch-" + recipient);
    }
    for (auto& activity : activities) *envelope.add_activities() = std::move(activity);
    return envelope;
  }

  static v1::internal::BatchEnvelope Single(const std::string& workflow, const std::vector<std::string>& recipients,
                                            const json& data, const std::string& actor = "ana") {
    return Envelope(workflow, 0, recipients, {MakeActivity("run-1", actor, data, kNowUs - 5'000'000, 0)});
  }

  BatchPlan Plan(v1::internal::BatchEnvelope envelope) const { return PlanBatch(Context(), envelope, kNowUs); }

  std::unique_ptr<workflow::Registry> registry_;
  FakeUsers users_;
  FakePreferences preferences_;
  FakeTenants tenants_;
};

TEST_F(BatchPlanTest, KnownRecipientGetsOneItemRenderedWithBatchValuesAndTenantBranding) {
  // Arrival order is by sequence (the wait store's counter), not by the
  // accepted time the api replicas stamped: cy arrived last although its
  // clock said earliest.
  std::vector<v1::internal::Activity> activities = {
      MakeActivity("r-bo", "bo", {{"post_id", "p1"}, {"post_title", "Second"}}, 2'000, 2),
      MakeActivity("r-cy", "cy", {{"post_id", "p1"}, {"post_title", "Launch plan"}}, 1'000, 3),
      MakeActivity("r-ana", "ana", {{"post_id", "p1"}, {"post_title", "First"}}, 3'000, 1),
      MakeActivity("r-ana2", "ana", {{"post_id", "p1"}, {"post_title", "First again"}}, 3'500, 1),
  };
  BatchPlan plan = Plan(Envelope("comments", 1, {"rita"}, std::move(activities), "acme"));

  ASSERT_EQ(plan.feed_items.size(), 1u);
  EXPECT_TRUE(plan.not_sent.empty());
  EXPECT_TRUE(plan.queued.empty());
  EXPECT_TRUE(plan.waits.empty());
  const feed::NewItem& pending = plan.feed_items[0];
  const v1::FeedItem& item = pending.item;
  EXPECT_EQ(pending.recipient, "rita");
  EXPECT_EQ(pending.channel, "in_app_feed");
  EXPECT_EQ(pending.accepted_at_us, 1'000);  // the newest activity's
  EXPECT_EQ(pending.inserted_at_us, kNowUs);
  EXPECT_EQ(item.id(), MessageId("batch-rita", 1, "in_app_feed"));
  EXPECT_EQ(item.workflow(), "comments");
  EXPECT_EQ(item.tenant(), "acme");
  EXPECT_EQ(item.total_activities(), 4);
  EXPECT_EQ(item.total_actors(), 3);
  EXPECT_THAT(item.actors(), ElementsAre("ana", "bo", "cy"));
  EXPECT_EQ(json::parse(item.data_json())["post_title"], "Launch plan");
  ASSERT_EQ(item.blocks_size(), 2);
  EXPECT_EQ(item.blocks(0).name(), "body");
  EXPECT_EQ(item.blocks(0).markdown(),
            "**Cy** and 4 comments by Ana, Bo, Cy (3) on Launch plan at Acme [#ff0000]");
  // No HTML: the feed renders it from the markdown when the item is read
  // (tests/pipeline_test.cc checks what ListFeed serves).
  EXPECT_EQ(item.blocks(0).rendered(), "");
  EXPECT_EQ(item.blocks(1).name(), "action_url");
  EXPECT_EQ(item.blocks(1).rendered(), "/posts/p1");
  EXPECT_EQ(plan.skipped_by_condition, 0);
  EXPECT_EQ(plan.critical_bypasses, 0);
}

// The fan-out hands the planner the cleared items of its previous read to
// fill: what they held before must not show through.
TEST_F(BatchPlanTest, SpareFeedItemsPlanTheSameItemsAsNewOnes) {
  std::vector<v1::internal::Activity> activities = {
      MakeActivity("r-bo", "bo", {{"post_id", "p1"}, {"post_title", "Second"}}, 2'000, 2),
      MakeActivity("r-cy", "cy", {{"post_id", "p1"}, {"post_title", "Launch plan"}}, 1'000, 3)};
  const v1::internal::BatchEnvelope envelope = Envelope("comments", 1, {"rita", "ana", "bo"}, activities, "acme");
  v1::internal::BatchEnvelope fresh_envelope = envelope;
  const BatchPlan fresh = PlanBatch(Context(), fresh_envelope, kNowUs);
  ASSERT_EQ(fresh.feed_items.size(), 3u);

  // Spares that held more (more blocks, buttons, actors, other strings),
  // cleared the way the fan-out clears them.
  std::vector<feed::NewItem> spares(2);
  for (feed::NewItem& spare : spares) {
    spare.item = fresh.feed_items[0].item;
    spare.item.set_seen_at_ms(7);
    spare.item.add_actors("someone-else");
    v1::FeedBlock* extra = spare.item.add_blocks();
    extra->set_name("extra");
    extra->set_type("button_set");
    extra->add_buttons()->set_label("Go");
    spare.item.Clear();
    spare.recipient = "stale";
    spare.preferences = "stale";
  }
  PlanContext context = Context();
  context.spare_feed_items = &spares;
  v1::internal::BatchEnvelope reused_envelope = envelope;
  const BatchPlan reused = PlanBatch(context, reused_envelope, kNowUs);
  EXPECT_TRUE(spares.empty());  // both taken; the third item is new
  ASSERT_EQ(reused.feed_items.size(), fresh.feed_items.size());
  for (size_t i = 0; i < fresh.feed_items.size(); ++i) {
    const feed::NewItem& a = fresh.feed_items[i];
    const feed::NewItem& b = reused.feed_items[i];
    EXPECT_EQ(b.item.SerializeAsString(), a.item.SerializeAsString()) << i;
    EXPECT_EQ(b.recipient, a.recipient);
    EXPECT_EQ(b.channel, a.channel);
    EXPECT_EQ(b.accepted_at_us, a.accepted_at_us);
    EXPECT_EQ(b.inserted_at_us, a.inserted_at_us);
    EXPECT_EQ(b.preferences, a.preferences);
    EXPECT_EQ(b.workflow_run_id, a.workflow_run_id);
  }
}

TEST_F(BatchPlanTest, EqualSequencesFallBackToAcceptedTime) {
  std::vector<v1::internal::Activity> activities = {
      MakeActivity("r-2", "bo", {{"post_title", "later"}}, 2'000, 0),
      MakeActivity("r-1", "cy", {{"post_title", "earlier"}}, 1'000, 0),
  };
  BatchPlan plan = Plan(Envelope("comments", 1, {"rita"}, std::move(activities)));
  ASSERT_EQ(plan.feed_items.size(), 1u);
  EXPECT_THAT(plan.feed_items[0].item.actors(), ElementsAre("cy", "bo"));
  // The newest (by accepted time) is bo's: it is `actor` and `data`. An
  // unknown tenant renders empty.
  EXPECT_EQ(plan.feed_items[0].item.blocks(0).markdown(), "**Bo** and 2 comments by Cy, Bo (2) on later at  []");
}

TEST_F(BatchPlanTest, UnknownRecipientIsRecordedNotSentWithoutItem) {
  BatchPlan plan =
      Plan(Envelope("comments", 1, {"ghost", "rita"}, {MakeActivity("r", "ana", {{"post_title", "T"}}, 1, 1)}));
  ASSERT_EQ(plan.feed_items.size(), 1u);
  EXPECT_EQ(plan.feed_items[0].recipient, "rita");
  ASSERT_EQ(plan.not_sent.size(), 1u);
  const NotSent& record = plan.not_sent[0];
  EXPECT_EQ(record.reason, NotSentReason::kUnknownRecipient);
  EXPECT_EQ(record.record.status, "not_sent");
  EXPECT_EQ(record.record.reason, "unknown_recipient");
  EXPECT_EQ(record.record.recipient, "ghost");
  EXPECT_EQ(record.record.workflow, "comments");
  EXPECT_EQ(record.record.channel, "in_app_feed");
  EXPECT_EQ(record.record.channel_type, "in_app_feed");
  EXPECT_EQ(record.record.message_id, MessageId("batch-ghost", 1, "in_app_feed"));
  EXPECT_EQ(record.record.at_us, kNowUs);
}

TEST_F(BatchPlanTest, UserOptOutIsNotSentNamingTheDecidingRule) {
  preferences_.SetUser("rita", {{"workflows", {{"comments", false}}}});
  BatchPlan plan = Plan(Envelope("comments", 1, {"rita", "nomail"}, {MakeActivity("r", "ana", json::object(), 1, 1)}));
  ASSERT_EQ(plan.feed_items.size(), 1u);
  EXPECT_EQ(plan.feed_items[0].recipient, "nomail");  // no preferences: sent
  ASSERT_EQ(plan.not_sent.size(), 1u);
  EXPECT_EQ(plan.not_sent[0].reason, NotSentReason::kPreference);
  EXPECT_EQ(plan.not_sent[0].record.recipient, "rita");
  EXPECT_EQ(plan.not_sent[0].record.status, "not_sent");
  EXPECT_EQ(plan.not_sent[0].record.reason, "preference");
  EXPECT_EQ(plan.not_sent[0].record.rule, "user:workflows.comments");
}

TEST_F(BatchPlanTest, CategoryOptOutOfTheEnvironmentDefaultDecidesToo) {
  auto environment = preferences::ParsePreferenceSet({{"categories", {{"collaboration", false}}}}, "default");
  ASSERT_TRUE(environment.ok()) << environment.status();
  PlanContext context = Context();
  context.default_preferences = &*environment;
  auto envelope = Envelope("comments", 1, {"rita"}, {MakeActivity("r", "ana", json::object(), 1, 1)});
  BatchPlan plan = PlanBatch(context, envelope, kNowUs);
  EXPECT_TRUE(plan.feed_items.empty());
  ASSERT_EQ(plan.not_sent.size(), 1u);
  EXPECT_EQ(plan.not_sent[0].record.rule, "environment:categories.collaboration");
}

TEST_F(BatchPlanTest, CriticalWorkflowBypassesOptOutAndSaysSo) {
  preferences_.SetUser("rita", {{"channel_types", {{"in_app_feed", false}}}});
  BatchPlan plan = Plan(Single("security-alert", {"rita", "nomail"}, json::object()));
  ASSERT_EQ(plan.feed_items.size(), 2u);
  EXPECT_TRUE(plan.not_sent.empty());
  EXPECT_EQ(plan.critical_bypasses, 1);  // only rita had opted out
  EXPECT_EQ(plan.feed_items[0].recipient, "rita");
  EXPECT_EQ(plan.feed_items[0].preferences, "critical_workflow: bypassed user:channel_types.in_app_feed");
  EXPECT_EQ(plan.feed_items[0].item.blocks(0).markdown(), "New sign-in for Rita");
  EXPECT_EQ(plan.feed_items[1].recipient, "nomail");
  EXPECT_EQ(plan.feed_items[1].preferences, "critical_workflow");
}

TEST_F(BatchPlanTest, MissingChannelDataNamesWhatIsMissing) {
  BatchPlan plan = Plan(Single("alerts", {"nomail"}, {{"topic", "db"}}));
  EXPECT_TRUE(plan.queued.empty());
  ASSERT_EQ(plan.not_sent.size(), 2u);
  EXPECT_EQ(plan.not_sent[0].reason, NotSentReason::kMissingChannelData);
  EXPECT_EQ(plan.not_sent[0].record.reason, "missing_channel_data");
  EXPECT_EQ(plan.not_sent[0].record.rule, "recipient.email");
  EXPECT_EQ(plan.not_sent[0].record.channel, "email");
  EXPECT_EQ(plan.not_sent[1].reason, NotSentReason::kMissingChannelData);
  EXPECT_EQ(plan.not_sent[1].record.reason, "missing_channel_data");
  EXPECT_EQ(plan.not_sent[1].record.rule, "channel_data.apns.tokens");
  EXPECT_EQ(plan.not_sent[1].record.channel, "apns");
  EXPECT_EQ(plan.not_sent[1].record.channel_type, "push");

  // An empty token list is as good as none.
  users_.AddChannelData("nomail", "apns", {{"tokens", json::array()}});
  plan = Plan(Single("alerts", {"nomail"}, {{"topic", "db"}}));
  ASSERT_EQ(plan.not_sent.size(), 2u);
  EXPECT_EQ(plan.not_sent[1].record.rule, "channel_data.apns.tokens");
}

TEST_F(BatchPlanTest, ReachableChannelsAreQueuedWithRenderedContent) {
  users_.AddChannelData("rita", "apns", {{"tokens", {"tok-1", "tok-2"}}});
  BatchPlan plan = Plan(Single("alerts", {"rita"}, {{"topic", "db down"}}, "bo"));
  EXPECT_TRUE(plan.not_sent.empty());
  EXPECT_TRUE(plan.feed_items.empty());
  ASSERT_EQ(plan.queued.size(), 2u);
  const messages::QueuedMessage& email = plan.queued[0];
  EXPECT_EQ(email.message_id, MessageId("batch-rita", 0, "email"));
  EXPECT_EQ(email.recipient, "rita");
  EXPECT_EQ(email.workflow, "alerts");
  EXPECT_EQ(email.channel, "email");
  EXPECT_EQ(email.channel_type, "email");
  EXPECT_EQ(email.accepted_at_us, kNowUs - 5'000'000);
  EXPECT_EQ(email.at_us, kNowUs);
  EXPECT_EQ(email.content.email().to(), "rita@example.com");
  EXPECT_EQ(email.content.email().subject(), "Bo needs you on db down");
  EXPECT_THAT(email.content.email().html(), HasSubstr("Hi Rita, <strong>db down</strong>"));
  EXPECT_EQ(email.content.email().text(), "Hi Rita, **db down**");  // the markdown as text part
  const messages::QueuedMessage& push = plan.queued[1];
  EXPECT_EQ(push.message_id, MessageId("batch-rita", 1, "apns"));
  EXPECT_EQ(push.channel, "apns");
  EXPECT_EQ(push.channel_type, "push");
  EXPECT_EQ(push.content.push().title(), "Alert");
  EXPECT_EQ(push.content.push().body(), "db down");
  EXPECT_THAT(push.content.push().tokens(), ElementsAre("tok-1", "tok-2"));
}

TEST_F(BatchPlanTest, StrictTemplateWithUnknownVariableIsUndeliveredNamingIt) {
  BatchPlan plan = Plan(Single("strict", {"rita"}, {{"topic", "x"}}));
  EXPECT_TRUE(plan.feed_items.empty());
  EXPECT_TRUE(plan.queued.empty());
  ASSERT_EQ(plan.not_sent.size(), 2u);
  EXPECT_EQ(plan.not_sent[0].reason, NotSentReason::kTemplateError);
  EXPECT_EQ(plan.not_sent[0].record.status, "undelivered");
  EXPECT_THAT(plan.not_sent[0].record.reason, StartsWith("template_error: "));
  EXPECT_THAT(plan.not_sent[0].record.reason, HasSubstr("unknown variable 'data.missing_field'"));
  EXPECT_EQ(plan.not_sent[0].record.channel, "in_app_feed");
  EXPECT_EQ(plan.not_sent[1].reason, NotSentReason::kTemplateError);
  EXPECT_EQ(plan.not_sent[1].record.status, "undelivered");
  EXPECT_THAT(plan.not_sent[1].record.reason, StartsWith("template_error: template.subject: "));
  EXPECT_THAT(plan.not_sent[1].record.reason, HasSubstr("unknown variable 'data.also_missing'"));
  EXPECT_EQ(plan.not_sent[1].record.message_id, MessageId("batch-rita", 1, "email"));

  // With the variables present the same workflow renders.
  plan = Plan(Single("strict", {"rita"}, {{"missing_field", "m"}, {"also_missing", "a"}}));
  EXPECT_TRUE(plan.not_sent.empty());
  ASSERT_EQ(plan.feed_items.size(), 1u);
  EXPECT_EQ(plan.feed_items[0].item.blocks(0).markdown(), "Hello Rita, about m");
  ASSERT_EQ(plan.queued.size(), 1u);
  EXPECT_EQ(plan.queued[0].content.email().subject(), "Re a");
}

TEST_F(BatchPlanTest, FailedStepConditionSkipsTheMessage) {
  BatchPlan plan = Plan(Single("conditional", {"rita", "nomail"}, {{"priority", "low"}, {"topic", "t"}}));
  EXPECT_EQ(plan.skipped_by_condition, 2);
  EXPECT_TRUE(plan.feed_items.empty());
  EXPECT_TRUE(plan.not_sent.empty());
  EXPECT_TRUE(plan.queued.empty());

  plan = Plan(Single("conditional", {"rita"}, {{"priority", "high"}, {"topic", "t"}}));
  EXPECT_EQ(plan.skipped_by_condition, 0);
  ASSERT_EQ(plan.feed_items.size(), 1u);
  EXPECT_EQ(plan.feed_items[0].item.blocks(0).markdown(), "Urgent: t");
}

TEST_F(BatchPlanTest, DelayAfterChannelStepHandsTheRunToOneWait) {
  BatchPlan plan = Plan(Single("escalate-delay", {"rita", "nomail"}, {{"topic", "t"}}));
  ASSERT_EQ(plan.feed_items.size(), 2u);
  EXPECT_TRUE(plan.queued.empty());  // the email waits behind the delay
  EXPECT_TRUE(plan.not_sent.empty());
  ASSERT_EQ(plan.waits.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const runs::WaitAppend& wait = plan.waits[i];
    const std::string recipient = i == 0 ? "rita" : "nomail";
    EXPECT_EQ(wait.step, 1);
    EXPECT_EQ(wait.run_id, "batch-" + recipient);
    EXPECT_EQ(wait.recipient, recipient);
    EXPECT_EQ(wait.workflow, "escalate-delay");
    EXPECT_EQ(wait.window_ms, 3'600'000);
    EXPECT_EQ(wait.now_ms, kNowUs / 1000);
    v1::internal::Activity activity;
    ASSERT_TRUE(activity.ParseFromString(wait.activity_blob));
    EXPECT_EQ(activity.run_id(), "batch-" + recipient);
    EXPECT_EQ(json::parse(activity.data_json())["topic"], "t");
    v1::internal::BatchEnvelope header;
    ASSERT_TRUE(header.ParseFromString(wait.header_blob));
    EXPECT_EQ(header.resume_step(), 2);
  }
  EXPECT_NE(plan.waits[0].wait_key, plan.waits[1].wait_key);
}

TEST_F(BatchPlanTest, BatchAfterChannelStepHandsTheRunToOneWait) {
  BatchPlan plan = Plan(Single("escalate-batch", {"rita"}, {{"topic", "t"}}));
  ASSERT_EQ(plan.feed_items.size(), 1u);
  EXPECT_TRUE(plan.queued.empty());
  ASSERT_EQ(plan.waits.size(), 1u);
  EXPECT_EQ(plan.waits[0].step, 1);
  EXPECT_EQ(plan.waits[0].run_id, "batch-rita");
  EXPECT_EQ(plan.waits[0].window_ms, 120'000);

  // Flushed batch resumes after the batch step: the email is queued, no wait.
  plan = Plan(Envelope("escalate-batch", 2, {"rita"},
                       {MakeActivity("a", "ana", {{"topic", "t"}}, 1, 1), MakeActivity("b", "bo", {{"topic", "t"}}, 2, 2)}));
  EXPECT_TRUE(plan.waits.empty());
  ASSERT_EQ(plan.queued.size(), 1u);
  EXPECT_EQ(plan.queued[0].content.email().html(), "<p>2</p>");
}

TEST_F(BatchPlanTest, WaitWhoseConditionFailsIsSkipped) {
  BatchPlan plan = Plan(Single("skippable-wait", {"rita"}, {{"priority", "high"}, {"topic", "t"}}));
  EXPECT_TRUE(plan.waits.empty());
  ASSERT_EQ(plan.queued.size(), 1u);
  EXPECT_EQ(plan.queued[0].message_id, MessageId("batch-rita", 1, "email"));
  EXPECT_EQ(plan.queued[0].content.email().subject(), "Now: t");

  plan = Plan(Single("skippable-wait", {"rita"}, {{"priority", "low"}, {"topic", "t"}}));
  EXPECT_TRUE(plan.queued.empty());
  ASSERT_EQ(plan.waits.size(), 1u);
  EXPECT_EQ(plan.waits[0].step, 0);
}

TEST_F(BatchPlanTest, UnknownWorkflowIsNotSentForEachTarget) {
  BatchPlan plan = Plan(Single("removed-workflow", {"rita", "ghost"}, json::object()));
  EXPECT_TRUE(plan.feed_items.empty());
  EXPECT_TRUE(plan.queued.empty());
  EXPECT_TRUE(plan.waits.empty());
  ASSERT_EQ(plan.not_sent.size(), 2u);
  std::set<std::string> ids;
  for (const NotSent& record : plan.not_sent) {
    EXPECT_EQ(record.reason, NotSentReason::kUnknownWorkflow);
    EXPECT_EQ(record.record.status, "not_sent");
    EXPECT_EQ(record.record.reason, "unknown_workflow");
    EXPECT_EQ(record.record.workflow, "removed-workflow");
    ids.insert(record.record.message_id);
  }
  EXPECT_EQ(plan.not_sent[0].record.recipient, "rita");
  EXPECT_EQ(plan.not_sent[1].record.recipient, "ghost");
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_EQ(plan.not_sent[0].record.message_id, DeterministicId({"batch-rita", "workflow"}));
}

TEST_F(BatchPlanTest, MessageIdsAreDeterministicAndDifferPerStepChannelAndBatch) {
  users_.Add("phone", {{"id", "phone"}, {"phone_number", "+15550100"}});
  auto ids = [&]() {
    BatchPlan plan = Plan(Single("two-feeds", {"phone", "rita"}, json::object()));
    std::vector<std::string> out;
    for (const auto& item : plan.feed_items) out.push_back(item.item.id());
    for (const auto& message : plan.queued) out.push_back(message.message_id);
    for (const auto& record : plan.not_sent) out.push_back(record.record.message_id);
    return out;
  };
  std::vector<std::string> first = ids();
  // 2 feed items each, phone's sms queued, rita's sms not_sent (no number).
  ASSERT_EQ(first.size(), 6u);
  EXPECT_EQ(ids(), first);
  EXPECT_EQ(std::set<std::string>(first.begin(), first.end()).size(), 6u);
  EXPECT_EQ(first[0], MessageId("batch-phone", 0, "in_app_feed"));
  EXPECT_EQ(first[1], MessageId("batch-phone", 1, "in_app_feed"));

  EXPECT_EQ(MessageId("b", 0, "email"), MessageId("b", 0, "email"));
  EXPECT_NE(MessageId("b", 0, "email"), MessageId("b", 1, "email"));
  EXPECT_NE(MessageId("b", 0, "email"), MessageId("b", 0, "sms"));
  EXPECT_NE(MessageId("b", 0, "email"), MessageId("c", 0, "email"));
  EXPECT_EQ(MessageId("b", 0, "email").size(), 32u);
}

}  // namespace
}  // namespace herald::fanout
