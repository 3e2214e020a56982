// What a run carries between its channel steps, with map-backed fakes: the
// earlier message's state deciding a later step (`refs`), fallback steps
// planned at once or later from the envelope a queued message carries, and
// webhook / email-sender content. No Redis.
#include "fanout/run_refs.h"

#include <memory>
#include <string>
#include <vector>

#include "fanout/batch_plan.h"
#include "fanout/plan_test_fakes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "workflow/parser.h"

namespace herald::fanout {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kReminder[] = R"yaml(
key: reminder
steps:
  - ref: in_app
    type: channel
    channel_type: in_app_feed
    template: {markdown: "{{ data.topic }}"}
  - {ref: wait, type: delay, duration: 10m}
  - ref: email
    type: channel
    channel_type: email
    conditions:
      - {variable: refs.in_app.engagement_status, operator: less_than, argument: read}
    template:
      subject: "Unread: {{ data.topic }}"
      markdown: "You have an unread message (it was {{ refs.in_app.engagement_status }})"
      from: "{{ tenant.id | default: 'herald' }} <noreply@example.com>"
      reply_to: "support@example.com"
)yaml";

constexpr char kPushOrSms[] = R"(
key: push-or-sms
steps:
  - ref: push
    type: channel
    channel_type: push
    channel: apns
    fallback: sms
    template: {title: "Alert", body: "{{ data.topic }}"}
  - ref: sms
    type: channel
    channel_type: sms
    template: {text: "Alert: {{ data.topic }}"}
)";

constexpr char kHooks[] = R"(
key: hooks
steps:
  - ref: plain
    type: channel
    channel_type: webhook
  - ref: custom
    type: channel
    channel_type: webhook
    channel: crm
    template:
      url: "https://crm.example.com/hooks/{{ recipient.id }}"
      body: '{"topic": {{ data.topic | json }}, "count": {{ total_activities }}}'
      headers:
        X-Topic: "{{ data.topic }}"
  - ref: broken
    type: channel
    channel_type: webhook
    channel: broken
    template: {body: "[1, 2]"}
)";

constexpr int64_t kNowUs = 1'700'000'000'000'000;

class RunRefsTest : public ::testing::Test {
 protected:
  RunRefsTest() {
    auto registry = workflow::Registry::FromDocuments({kReminder, kPushOrSms, kHooks}, "test.yaml");
    EXPECT_TRUE(registry.ok()) << registry.status();
    if (registry.ok()) registry_ = std::move(*registry);
    users_.Add("rita", {{"id", "rita"}, {"name", "Rita"}, {"email", "rita@example.com"}, {"phone_number", "+15550100"}});
    users_.Add("tom", {{"id", "tom"}, {"name", "Tom"}, {"phone_number", "+15550101"}});
    users_.AddChannelData("tom", "apns", {{"tokens", {"tok-1"}}});
  }

  PlanContext Context() const {
    PlanContext context{*registry_, users_, preferences_, tenants_};
    context.message_states = &states_;
    return context;
  }

  static v1::internal::BatchEnvelope Fresh(const std::string& workflow, const std::string& recipient) {
    v1::internal::BatchEnvelope envelope;
    envelope.set_workflow(workflow);
    envelope.set_tenant("acme");
    auto* target = envelope.add_targets();
    target->set_recipient(recipient);
    target->set_batch_id("batch-" + recipient);
    auto* activity = envelope.add_activities();
    activity->set_actor("ana");
    activity->set_data_json(R"({"topic": "db \"down\""})");
    activity->set_accepted_at_us(kNowUs - 1000);
    return envelope;
  }

  // The batch the wait store hands back once the wait is due.
  static v1::internal::BatchEnvelope AfterWait(const runs::WaitAppend& wait) {
    v1::internal::BatchEnvelope envelope;
    EXPECT_TRUE(envelope.ParseFromString(wait.header_blob));
    envelope.mutable_targets(0)->set_batch_id(wait.batch_id);
    EXPECT_TRUE(envelope.add_activities()->ParseFromString(wait.activity_blob));
    return envelope;
  }

  BatchPlan Plan(v1::internal::BatchEnvelope envelope, int64_t now_us = kNowUs) const {
    return PlanBatch(Context(), envelope, now_us);
  }

  std::unique_ptr<workflow::Registry> registry_;
  FakeUsers users_;
  FakePreferences preferences_;
  FakeTenants tenants_;
  FakeMessageStates states_;
};

TEST_F(RunRefsTest, WaitCarriesTheFeedItemIdAndTheEmailFollowsItsEngagement) {
  BatchPlan first = Plan(Fresh("reminder", "rita"));
  ASSERT_EQ(first.feed_items.size(), 1u);
  ASSERT_EQ(first.waits.size(), 1u);
  const std::string item_id = first.feed_items[0].item.id();
  v1::internal::BatchEnvelope later = AfterWait(first.waits[0]);
  EXPECT_THAT(later.activities(0).step_messages(), ::testing::Contains(::testing::Pair("in_app", item_id)));
  EXPECT_THAT(RefMessageIds(*registry_, later), ElementsAre(item_id));

  // Unread (no engagement: its status "delivered" stands in) => the email.
  states_.Set(item_id, "delivered");
  BatchPlan unread = Plan(later, kNowUs + 600'000'000);
  ASSERT_EQ(unread.queued.size(), 1u);
  EXPECT_EQ(unread.queued[0].channel_type, "email");
  EXPECT_EQ(unread.queued[0].content.email().html(), "<p>You have an unread message (it was delivered)</p>\n");
  EXPECT_EQ(unread.queued[0].content.email().from(), "acme <noreply@example.com>");
  EXPECT_EQ(unread.queued[0].content.email().reply_to(), "support@example.com");
  EXPECT_EQ(unread.skipped_by_condition, 0);

  // Seen is still less than read.
  states_.Set(item_id, "delivered", "seen");
  EXPECT_EQ(Plan(later).queued.size(), 1u);

  for (const char* engaged : {"read", "interacted", "archived"}) {
    states_.Set(item_id, "delivered", engaged);
    BatchPlan read = Plan(later);
    EXPECT_TRUE(read.queued.empty()) << engaged;
    EXPECT_TRUE(read.not_sent.empty()) << engaged;
    EXPECT_EQ(read.skipped_by_condition, 1) << engaged;
  }
}

TEST_F(RunRefsTest, UnknownEarlierMessageFailsTheOrderedComparison) {
  BatchPlan first = Plan(Fresh("reminder", "rita"));
  ASSERT_EQ(first.waits.size(), 1u);
  // The item expired (or was never read back): refs.in_app has no status.
  BatchPlan later = Plan(AfterWait(first.waits[0]));
  EXPECT_TRUE(later.queued.empty());
  EXPECT_EQ(later.skipped_by_condition, 1);
}

TEST_F(RunRefsTest, RefMessageIdsIsEmptyForWorkflowsThatDoNotReadRefs) {
  v1::internal::BatchEnvelope envelope = Fresh("push-or-sms", "rita");
  (*envelope.mutable_activities(0)->mutable_step_messages())["push"] = "m1";
  EXPECT_TRUE(RefMessageIds(*registry_, envelope).empty());
  EXPECT_FALSE(registry_->Find("push-or-sms")->reads_refs);
  EXPECT_TRUE(registry_->Find("reminder")->reads_refs);
}

TEST_F(RunRefsTest, FallbackIsPlannedAtOnceWhenThePrimaryIsNotSent) {
  BatchPlan plan = Plan(Fresh("push-or-sms", "rita"));  // rita has no push tokens
  ASSERT_EQ(plan.not_sent.size(), 1u);
  EXPECT_EQ(plan.not_sent[0].record.channel_type, "push");
  EXPECT_EQ(plan.not_sent[0].record.reason, "missing_channel_data");
  ASSERT_EQ(plan.queued.size(), 1u);
  EXPECT_EQ(plan.queued[0].channel_type, "sms");
  EXPECT_EQ(plan.queued[0].content.sms().text(), "Alert: db \"down\"");
  EXPECT_EQ(plan.queued[0].message_id, MessageId("batch-rita", 1, "sms"));
  EXPECT_TRUE(plan.queued[0].fallback.empty());
}

TEST_F(RunRefsTest, QueuedPrimaryCarriesItsFallbackAndTheFallbackStepDoesNotRunInSequence) {
  BatchPlan plan = Plan(Fresh("push-or-sms", "tom"));
  ASSERT_EQ(plan.queued.size(), 1u);  // push only: sms runs only as a fallback
  EXPECT_TRUE(plan.not_sent.empty());
  const messages::QueuedMessage& push = plan.queued[0];
  EXPECT_EQ(push.channel_type, "push");
  v1::internal::BatchEnvelope fallback;
  ASSERT_TRUE(fallback.ParseFromString(push.fallback));
  EXPECT_EQ(fallback.workflow(), "push-or-sms");
  EXPECT_EQ(fallback.tenant(), "acme");
  EXPECT_EQ(fallback.resume_step(), 1);
  EXPECT_TRUE(fallback.only_step());
  ASSERT_EQ(fallback.targets_size(), 1);
  EXPECT_EQ(fallback.targets(0).recipient(), "tom");
  EXPECT_EQ(fallback.targets(0).batch_id(), "batch-tom");
  ASSERT_EQ(fallback.activities_size(), 1);
  EXPECT_EQ(fallback.activities(0).step_messages().at("push"), push.message_id);

  // The dispatcher feeds it back when the push ends undelivered: exactly the
  // sms, under an id of its own that a replay finds again.
  BatchPlan again = Plan(fallback, kNowUs + 60'000'000);
  ASSERT_EQ(again.queued.size(), 1u);
  EXPECT_TRUE(again.not_sent.empty());
  EXPECT_TRUE(again.waits.empty());
  EXPECT_TRUE(again.feed_items.empty());
  EXPECT_EQ(again.queued[0].channel_type, "sms");
  EXPECT_EQ(again.queued[0].content.sms().to(), "+15550101");
  EXPECT_EQ(again.queued[0].content.sms().text(), "Alert: db \"down\"");
  EXPECT_NE(again.queued[0].message_id, push.message_id);
  EXPECT_EQ(again.queued[0].message_id, MessageId("batch-tom", 1, "sms"));
  EXPECT_EQ(Plan(fallback, kNowUs + 90'000'000).queued[0].message_id, again.queued[0].message_id);
}

TEST_F(RunRefsTest, WebhooksGetHeraldsBodyOrTheirOwnObject) {
  BatchPlan plan = Plan(Fresh("hooks", "rita"));
  ASSERT_EQ(plan.queued.size(), 2u);
  const v1::WebhookContent& plain = plan.queued[0].content.webhook();
  EXPECT_EQ(plain.url(), "");  // the channel's configured URL
  json body = json::parse(plain.body_json());
  EXPECT_EQ(body["id"], plan.queued[0].message_id);
  EXPECT_EQ(body["workflow"], "hooks");
  EXPECT_EQ(body["recipient"]["email"], "rita@example.com");
  EXPECT_EQ(body["tenant"], "acme");
  EXPECT_EQ(body["data"]["topic"], "db \"down\"");
  EXPECT_EQ(body["actors"][0]["id"], "ana");
  EXPECT_EQ(body["total_activities"], 1);

  const v1::WebhookContent& custom = plan.queued[1].content.webhook();
  EXPECT_EQ(custom.url(), "https://crm.example.com/hooks/rita");
  EXPECT_EQ(json::parse(custom.body_json()), (json{{"topic", "db \"down\""}, {"count", 1}}));
  EXPECT_EQ(custom.headers().at("X-Topic"), "db \"down\"");

  ASSERT_EQ(plan.not_sent.size(), 1u);
  EXPECT_EQ(plan.not_sent[0].record.status, "undelivered");
  EXPECT_THAT(plan.not_sent[0].record.reason, HasSubstr("template.body: did not render to a JSON object"));
}

}  // namespace
}  // namespace herald::fanout
