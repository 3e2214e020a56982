// End to end through every role: gRPC trigger -> events stream -> batcher
// (Lua wait store) -> flusher -> batches stream -> fan-out -> feed, with a
// simulated clock driving windows and delays.
#include <grpcpp/grpcpp.h>

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/keys.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/herald_harness.h"
#include "tests/support/redis_fixture.h"
#include "tests/support/stored_messages.h"

namespace herald {
namespace {

constexpr char kChannel[] = R"(
  - ref: feed
    type: channel
    channel_type: in_app_feed
    template:
      markdown: >-
        {% if total_actors > 2 %}{{ actors[0].name }}, {{ actors[1].name }} and {{ total_actors | minus: 2 }}
        {{ total_actors | minus: 2 | pluralize: 'other' }}{% elsif total_actors == 2 %}{{ actors[0].name }} and
        {{ actors[1].name }}{% else %}{{ actor.name }}{% endif %} commented on **{{ data.post_title | escape }}**
        ({{ total_activities }} {{ total_activities | pluralize: 'comment' }})
      action_url: "/posts/{{ data.post_id | url_encode }}"
      buttons:
        - {name: open, label: "Open {{ data.post_title | truncate: 8 }}", action: "/posts/{{ data.post_id }}"}
)";


testing::HarnessOptions Workflows() {
  testing::HarnessOptions options;
  options.workflow_files["digest.yaml"] = absl::StrCat(R"(
key: digest
steps:
  - ref: batch
    type: batch
    window: 10s
    batch_key: "{{ data.post_id }}"
    render_limit: 3
)", kChannel);
  options.workflow_files["digest2.yaml"] = absl::StrCat(R"(
key: digest2
steps:
  - {ref: batch, type: batch, window: 10s, batch_key: "{{ data.post_id }}"}
)", kChannel);
  options.workflow_files["capped.yaml"] = absl::StrCat(R"(
key: capped
steps:
  - {ref: batch, type: batch, window: 1h, max_activities: 3}
)", kChannel);
  options.workflow_files["sliding.yaml"] = absl::StrCat(R"(
key: sliding
steps:
  - {ref: batch, type: batch, window: 10s, window_mode: sliding, max_window: 25s}
)", kChannel);
  options.workflow_files["leading.yaml"] = absl::StrCat(R"(
key: leading
steps:
  - {ref: batch, type: batch, window: 10s, flush_leading_item: true}
)", kChannel);
  options.workflow_files["delayed.yaml"] = R"(
key: delayed
steps:
  - {ref: wait, type: delay, duration: 5s}
  - ref: feed
    type: channel
    channel_type: in_app_feed
    template: {markdown: "reminder for {{ recipient.name }}"}
)";
  options.workflow_files["direct.yaml"] = R"(
key: direct
steps:
  - ref: urgent
    type: channel
    channel_type: in_app_feed
    conditions: [{variable: data.priority, operator: equal_to, argument: high}]
    template: {markdown: "urgent: {{ data.text }}"}
  - ref: always
    type: channel
    channel: secondary
    channel_type: in_app_feed
    template: {markdown: "{{ data.text }} for {{ recipient.name }} in {{ tenant.id }}"}
)";
  options.workflow_files["trial.yaml"] = R"(
key: trial
steps:
  - {ref: wait, type: delay, duration: 2160h}
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "your trial ends today"}}
)";
  options.workflow_files["reset.yaml"] = R"(
key: reset
critical: true
categories: [security]
steps:
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "reset your password"}}
)";
  options.workflow_files["strict.yaml"] = R"(
key: strict
strict_templates: true
steps:
  - ref: feed
    type: channel
    channel_type: in_app_feed
    template: {markdown: "due {{ data.due | date: '%a %H:%M' }} for {{ recipient.name }}{{ data.missing }}"}
)";
  return options;
}

class PipelineTest : public testing::RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    harness_ = std::make_unique<testing::HeraldHarness>(endpoint(), Workflows());
    ASSERT_TRUE(harness_->ok());
    for (const char* name : {"ana", "bo", "cy", "di", "ed", "fay", "rita"}) {
      std::string display = name;
      display[0] = static_cast<char>(std::toupper(display[0]));
      ASSERT_TRUE(harness_->Identify(name, display).ok());
    }
  }
  void TearDown() override { harness_.reset(); }

  v1::TriggerResponse Trigger(const std::string& workflow, const std::string& recipient, const std::string& actor,
                              const std::string& data, const std::string& tenant = "",
                              const std::string& cancellation_key = "") {
    v1::TriggerRequest request;
    request.set_workflow(workflow);
    request.add_recipients()->set_id(recipient);
    request.set_actor(actor);
    request.set_data_json(data);
    request.set_tenant(tenant);
    request.set_cancellation_key(cancellation_key);
    v1::TriggerResponse response;
    grpc::Status status = harness_->stub().Trigger(testing::HeraldHarness::Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  // Processes everything pending, moves the simulated clock, processes again.
  void AdvanceAndDrain(absl::Duration by) {
    ASSERT_TRUE(harness_->WaitForIdle());
    harness_->clock().AdvanceMicros(absl::ToInt64Microseconds(by));
    ASSERT_TRUE(harness_->WaitForIdle());
  }

  std::unique_ptr<testing::HeraldHarness> harness_;
};

TEST_F(PipelineTest, FiveTriggersInOneWindowMakeOneItemAndASixthOpensANewBatch) {
  const std::string post = R"({"post_id": "p1", "post_title": "Launch plan"})";
  for (const char* actor : {"ana", "bo", "cy", "di", "ed"}) Trigger("digest", "rita", actor, post);
  AdvanceAndDrain(absl::Seconds(5));
  EXPECT_TRUE(harness_->AllFeedItems("rita").empty()) << "flushed before the window closed";
  AdvanceAndDrain(absl::Seconds(6));
  auto items = harness_->AllFeedItems("rita");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].total_activities(), 5);
  EXPECT_EQ(items[0].total_actors(), 5);
  EXPECT_EQ(std::vector<std::string>(items[0].actors().begin(), items[0].actors().end()),
            (std::vector<std::string>{"ana", "bo", "cy", "di", "ed"}));
  ASSERT_GE(items[0].blocks_size(), 1);
  // The example of issue 3, through the whole pipeline: the newest actor,
  // unique actors in order and the totals, rendered and turned into HTML.
  ASSERT_EQ(items[0].blocks_size(), 3);
  EXPECT_EQ(items[0].blocks(0).markdown(), "Ana, Bo and 3 others commented on **Launch plan** (5 comments)");
  EXPECT_EQ(items[0].blocks(0).rendered(), "<p>Ana, Bo and 3 others commented on <strong>Launch plan</strong> (5 comments)</p>\n");
  EXPECT_EQ(items[0].blocks(1).name(), "action_url");
  EXPECT_EQ(items[0].blocks(1).rendered(), "/posts/p1");
  ASSERT_EQ(items[0].blocks(2).buttons_size(), 1);
  EXPECT_EQ(items[0].blocks(2).buttons(0).label(), "Open Launc...");
  EXPECT_EQ(items[0].blocks(2).buttons(0).action(), "/posts/p1");

  Trigger("digest", "rita", "fay", post);
  AdvanceAndDrain(absl::Seconds(11));
  items = harness_->AllFeedItems("rita");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].total_activities(), 1);  // newest first
  EXPECT_EQ(items[0].actors(0), "fay");
  EXPECT_EQ(items[1].total_activities(), 5);
  // Nothing of either batch is left behind in Redis.
  for (const std::string& key : AllKeys()) {
    EXPECT_EQ(key.find(":wa:"), std::string::npos) << key;
    EXPECT_EQ(key.find(":wh:"), std::string::npos) << key;
  }
}

TEST_F(PipelineTest, BatchKeysTenantsAndWorkflowsNeverShareABatch) {
  Trigger("digest", "rita", "ana", R"({"post_id": "p1"})");
  Trigger("digest", "rita", "bo", R"({"post_id": "p2"})");
  Trigger("digest", "rita", "cy", R"({"post_id": "p1"})", "tenant-a");
  Trigger("digest2", "rita", "di", R"({"post_id": "p1"})");
  Trigger("digest", "rita", "ed", R"({"post_id": "p1"})");
  AdvanceAndDrain(absl::Seconds(11));
  auto items = harness_->AllFeedItems("rita");
  ASSERT_EQ(items.size(), 4u);
  std::multiset<std::string> shapes;
  for (const auto& item : items) {
    shapes.insert(absl::StrCat(item.workflow(), "/", item.tenant(), "/", item.total_activities()));
  }
  EXPECT_EQ(shapes, (std::multiset<std::string>{"digest//2", "digest//1", "digest/tenant-a/1", "digest2//1"}));
}

TEST_F(PipelineTest, MaxActivitiesFlushesBeforeTheWindow) {
  for (const char* actor : {"ana", "bo", "cy"}) Trigger("capped", "rita", actor, "{}");
  ASSERT_TRUE(harness_->WaitForIdle());
  auto items = harness_->AllFeedItems("rita");
  ASSERT_EQ(items.size(), 1u) << "an hour-long window with max 3 activities must flush at the third";
  EXPECT_EQ(items[0].total_activities(), 3);
  Trigger("capped", "rita", "di", "{}");
  ASSERT_TRUE(harness_->WaitForIdle());
  EXPECT_EQ(harness_->AllFeedItems("rita").size(), 1u);
}

TEST_F(PipelineTest, CancelBeforeTheFlushLeavesNoItemAndRecordsIt) {
  auto first = Trigger("digest", "rita", "ana", R"({"post_id": "p1"})", "", "order-7");
  Trigger("digest", "rita", "bo", R"({"post_id": "p1"})", "", "order-7");
  Trigger("digest", "cy", "bo", R"({"post_id": "p1"})", "", "order-7");
  ASSERT_TRUE(harness_->WaitForIdle());
  v1::CancelRequest cancel;
  cancel.set_workflow("digest");
  cancel.set_cancellation_key("order-7");
  cancel.add_recipients("rita");
  v1::CancelResponse cancelled;
  ASSERT_TRUE(harness_->stub().Cancel(testing::HeraldHarness::Context().get(), cancel, &cancelled).ok());
  EXPECT_EQ(cancelled.cancelled_runs(), 2);
  AdvanceAndDrain(absl::Seconds(11));
  EXPECT_TRUE(harness_->AllFeedItems("rita").empty());
  EXPECT_EQ(harness_->AllFeedItems("cy").size(), 1u) << "cancel named only rita";
  auto client = Connect();
  const std::string run_id = first.runs(0).workflow_run_id();
  auto status = client->Execute({"HGET", Keys(PartitionOf("rita", 4)).Run(run_id), "status"});
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->str, "cancelled");
  // A trigger accepted before the cancellation but processed after it is
  // stopped too; one accepted after it runs normally.
  Trigger("digest", "rita", "cy", R"({"post_id": "p1"})", "", "order-7");
  AdvanceAndDrain(absl::Seconds(11));
  EXPECT_EQ(harness_->AllFeedItems("rita").size(), 1u);
}

TEST_F(PipelineTest, CancelWithoutRecipientsStopsEveryRecipient) {
  Trigger("delayed", "rita", "", "{}", "", "k");
  Trigger("delayed", "ana", "", "{}", "", "k");
  ASSERT_TRUE(harness_->WaitForIdle());
  v1::CancelRequest cancel;
  cancel.set_workflow("delayed");
  cancel.set_cancellation_key("k");
  v1::CancelResponse cancelled;
  ASSERT_TRUE(harness_->stub().Cancel(testing::HeraldHarness::Context().get(), cancel, &cancelled).ok());
  EXPECT_EQ(cancelled.cancelled_runs(), 2);
  AdvanceAndDrain(absl::Seconds(6));
  EXPECT_TRUE(harness_->AllFeedItems("rita").empty());
  EXPECT_TRUE(harness_->AllFeedItems("ana").empty());
}

TEST_F(PipelineTest, DelayWaitsForItsDuration) {
  Trigger("delayed", "rita", "", "{}");
  AdvanceAndDrain(absl::Seconds(4));
  EXPECT_TRUE(harness_->AllFeedItems("rita").empty());
  AdvanceAndDrain(absl::Seconds(2));
  auto items = harness_->AllFeedItems("rita");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].blocks(0).markdown(), "reminder for Rita");
}

TEST_F(PipelineTest, SlidingWindowMovesOutButNeverPastItsCap) {
  Trigger("sliding", "rita", "ana", "{}");
  AdvanceAndDrain(absl::Seconds(8));
  Trigger("sliding", "rita", "bo", "{}");  // close moves to 18s
  AdvanceAndDrain(absl::Seconds(8));       // t=16
  EXPECT_TRUE(harness_->AllFeedItems("rita").empty());
  Trigger("sliding", "rita", "cy", "{}");  // would be 26s, capped at 25s
  AdvanceAndDrain(absl::Seconds(8));       // t=24
  EXPECT_TRUE(harness_->AllFeedItems("rita").empty());
  AdvanceAndDrain(absl::Seconds(1) + absl::Milliseconds(1));  // t=25
  auto items = harness_->AllFeedItems("rita");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].total_activities(), 3);
}

TEST_F(PipelineTest, FlushLeadingItemSendsTheFirstAtOnceAndBatchesTheRest) {
  Trigger("leading", "rita", "ana", "{}");
  ASSERT_TRUE(harness_->WaitForIdle());
  auto items = harness_->AllFeedItems("rita");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].total_activities(), 1);
  Trigger("leading", "rita", "bo", "{}");
  Trigger("leading", "rita", "cy", "{}");
  AdvanceAndDrain(absl::Seconds(11));
  items = harness_->AllFeedItems("rita");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].total_activities(), 2);
  // A window with only the leading item flushes nothing more.
  Trigger("leading", "ana", "bo", "{}");
  AdvanceAndDrain(absl::Seconds(11));
  EXPECT_EQ(harness_->AllFeedItems("ana").size(), 1u);
}

TEST_F(PipelineTest, ConditionsDecideEachChannelStep) {
  Trigger("direct", "rita", "ana", R"({"priority": "high", "text": "db down"})", "acme");
  Trigger("direct", "rita", "ana", R"({"priority": "low", "text": "disk 80%"})", "acme");
  ASSERT_TRUE(harness_->WaitForIdle());
  auto items = harness_->AllFeedItems("rita");
  std::multiset<std::string> texts;
  for (const auto& item : items) texts.insert(item.blocks(0).markdown());
  EXPECT_EQ(texts, (std::multiset<std::string>{"urgent: db down", "db down for Rita in acme",
                                                "disk 80% for Rita in acme"}));
}

TEST_F(PipelineTest, UnknownRecipientIsRecordedNotSentNeverDropped) {
  auto response = Trigger("direct", "nobody", "ana", R"({"text": "x"})");
  ASSERT_TRUE(harness_->WaitForIdle());
  EXPECT_TRUE(harness_->AllFeedItems("nobody").empty());
  auto client = Connect();
  int not_sent = 0;
  for (const std::string& key : AllKeys()) {
    if (key.find(":msg:") == std::string::npos) continue;
    auto fields = client->Execute({"HMGET", key, "recipient", "status", "reason"});
    ASSERT_TRUE(fields.ok());
    if (fields->elements[0].str != "nobody") continue;
    EXPECT_EQ(fields->elements[1].str, "not_sent");
    EXPECT_EQ(fields->elements[2].str, "unknown_recipient");
    ++not_sent;
  }
  EXPECT_EQ(not_sent, 1);  // the conditional step did not pass; the other step is recorded
}

// Message records of `user`: reason -> (rule or preferences note).
std::multimap<std::string, std::string> Records(redis::RedisClient& client, const std::vector<std::string>& keys,
                                                const std::string& user) {
  std::multimap<std::string, std::string> records;
  for (auto& [id, f] : testing::StoredMessagesOf(client, keys, user)) {
    records.emplace(f["reason"].empty() ? f["status"] : absl::StrCat(f["status"], "/", f["reason"]),
                    f["rule"] + f["preferences"]);
  }
  return records;
}

TEST_F(PipelineTest, StrictTemplatesFailTheMessageNamingTheVariableAndDatesUseTheRecipientsZone) {
  ASSERT_TRUE(harness_->Identify("kenji", "Kenji", "Asia/Tokyo").ok());
  Trigger("strict", "kenji", "ana", R"({"due": 1764151200, "missing": "!"})");
  Trigger("strict", "rita", "ana", R"({"due": 1764151200})");
  ASSERT_TRUE(harness_->WaitForIdle());
  auto kenji = harness_->AllFeedItems("kenji");
  ASSERT_EQ(kenji.size(), 1u);
  EXPECT_EQ(kenji[0].blocks(0).markdown(), "due Wed 19:00 for Kenji!");  // 10:00 UTC in Tokyo
  EXPECT_TRUE(harness_->AllFeedItems("rita").empty());
  auto client = Connect();
  EXPECT_EQ(Records(*client, AllKeys(), "rita"),
            (std::multimap<std::string, std::string>{
                {"undelivered/template_error: unknown variable 'data.missing' at 1:66", ""}}));
}

TEST_F(PipelineTest, PreferencesDecideAtEveryLevelAndCriticalWorkflowsBypassThem) {
  auto set = [&](const std::string& user, const std::string& tenant, const std::string& json) {
    v1::SetPreferencesRequest request;
    request.set_user_id(user);
    request.set_tenant(tenant);
    request.set_preferences_json(json);
    v1::Preferences response;
    return harness_->stub().SetPreferences(testing::HeraldHarness::Context().get(), request, &response);
  };
  // A bad set names the field and writes nothing.
  size_t keys_before = AllKeys().size();
  grpc::Status bad = set("rita", "", R"({"workflows": {"direct": {"channel_types": {"in_app_feed": "no"}}}})");
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(bad.error_message(), "preferences_json.workflows.direct.channel_types.in_app_feed: must be a boolean");
  EXPECT_EQ(AllKeys().size(), keys_before);

  ASSERT_TRUE(set("rita", "", R"({"workflows": {"direct": false}, "channel_types": {"in_app_feed": false}})").ok());
  ASSERT_TRUE(set("", "acme", R"({"channel_types": {"in_app_feed": false}})").ok());            // tenant default
  ASSERT_TRUE(set("bo", "acme", R"({"channel_types": {"in_app_feed": true}})").ok());          // bo, in acme
  Trigger("direct", "rita", "ana", R"({"text": "x"})");         // user opts out of the workflow
  Trigger("direct", "bo", "ana", R"({"text": "y"})", "acme");   // user-per-tenant beats the tenant default
  Trigger("direct", "cy", "ana", R"({"text": "z"})", "acme");   // tenant default applies
  Trigger("direct", "cy", "ana", R"({"text": "w"})");           // no tenant: nothing applies
  Trigger("reset", "rita", "", "{}");                           // critical: bypasses rita's opt-out
  ASSERT_TRUE(harness_->WaitForIdle());

  auto client = Connect();
  std::vector<std::string> keys = AllKeys();
  EXPECT_EQ(Records(*client, keys, "rita"),
            (std::multimap<std::string, std::string>{{"not_sent/preference", "user:workflows.direct"},
                                                     {"delivered", "critical_workflow: bypassed user:channel_types.in_app_feed"}}));
  auto rita = harness_->AllFeedItems("rita");
  ASSERT_EQ(rita.size(), 1u);
  EXPECT_EQ(rita[0].workflow(), "reset");
  EXPECT_EQ(harness_->AllFeedItems("bo").size(), 1u);
  EXPECT_EQ(Records(*client, keys, "cy"),
            (std::multimap<std::string, std::string>{{"not_sent/preference", "tenant:channel_types.in_app_feed"},
                                                     {"delivered", ""}}));

  // Explain says the same, with the chain and what was overridden.
  v1::ExplainPreferencesRequest explain;
  explain.set_user_id("bo");
  explain.set_workflow("direct");
  explain.set_tenant("acme");
  explain.set_channel_type("in_app_feed");
  v1::ExplainPreferencesResponse why;
  ASSERT_TRUE(harness_->stub().ExplainPreferences(testing::HeraldHarness::Context().get(), explain, &why).ok());
  EXPECT_TRUE(why.send());
  EXPECT_EQ(why.reason(), "allowed");
  ASSERT_EQ(why.chain_size(), 1);
  EXPECT_EQ(why.chain(0).level(), "user_tenant");
  ASSERT_EQ(why.overridden_size(), 1);
  EXPECT_EQ(why.overridden(0).level(), "tenant");
  explain.set_user_id("cy");
  ASSERT_TRUE(harness_->stub().ExplainPreferences(testing::HeraldHarness::Context().get(), explain, &why).ok());
  EXPECT_FALSE(why.send());
  EXPECT_EQ(why.decided_by(), "tenant:channel_types.in_app_feed");
  explain.set_workflow("nope");
  grpc::Status unknown = harness_->stub().ExplainPreferences(testing::HeraldHarness::Context().get(), explain, &why);
  EXPECT_EQ(unknown.error_message(), "workflow: unknown workflow 'nope'");
}

TEST_F(PipelineTest, InlineRecipientsAreIdentifiedWithTheTrigger) {
  v1::TriggerRequest request;
  request.set_workflow("direct");
  auto* user = request.add_recipients()->mutable_user();
  user->set_id("new-user");
  user->set_name("Nia");
  user->set_properties_json(R"({"plan": "pro"})");
  request.set_data_json(R"({"text": "hi"})");
  v1::TriggerResponse response;
  ASSERT_TRUE(harness_->stub().Trigger(testing::HeraldHarness::Context().get(), request, &response).ok());
  ASSERT_TRUE(harness_->WaitForIdle());
  auto items = harness_->AllFeedItems("new-user");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].blocks(0).markdown(), "hi for Nia in ");
}

// Keys of waits still in Redis (open batches, their pointers, delays).
std::vector<std::string> WaitKeys(const std::vector<std::string>& keys) {
  std::vector<std::string> waits;
  for (const std::string& key : keys) {
    if (key.find(":wa:") != std::string::npos || key.find(":wh:") != std::string::npos ||
        key.find(":wo:") != std::string::npos) {
      waits.push_back(key);
    }
  }
  return waits;
}

// Reaching max activities closes the batch in the same script that adds
// the activity: activities arriving before the flusher claims it open the
// next batch instead of joining a full one. TriggerBatch delivers them in
// one read, so every append lands before any claim.
TEST_F(PipelineTest, MaxActivitiesClosesTheBatchSoTheNextActivityOpensANewOne) {
  auto trigger_batch = [&](int count, const std::string& recipient) {
    v1::TriggerBatchRequest batch;
    for (int i = 0; i < count; ++i) {
      v1::TriggerRequest* trigger = batch.add_triggers();
      trigger->set_workflow("capped");
      trigger->add_recipients()->set_id(recipient);
      trigger->set_actor("ana");
      trigger->set_data_json(absl::StrCat(R"({"i": )", i, "}"));
    }
    v1::TriggerBatchResponse response;
    ASSERT_TRUE(harness_->stub().TriggerBatch(testing::HeraldHarness::Context().get(), batch, &response).ok());
    for (const auto& result : response.results()) ASSERT_EQ(result.code(), 0) << result.error();
  };
  auto sizes = [&](const std::string& recipient) {
    std::multiset<int64_t> totals;
    for (const auto& item : harness_->AllFeedItems(recipient)) totals.insert(item.total_activities());
    return totals;
  };
  trigger_batch(4, "rita");
  trigger_batch(7, "bo");
  ASSERT_TRUE(harness_->WaitForIdle());
  EXPECT_EQ(sizes("rita"), (std::multiset<int64_t>{3})) << "the fourth must open a new batch, not join the full one";
  EXPECT_EQ(sizes("bo"), (std::multiset<int64_t>{3, 3}));
  AdvanceAndDrain(absl::Hours(1) + absl::Seconds(1));
  EXPECT_EQ(sizes("rita"), (std::multiset<int64_t>{3, 1}));
  EXPECT_EQ(sizes("bo"), (std::multiset<int64_t>{3, 3, 1}));
  EXPECT_THAT(WaitKeys(AllKeys()), ::testing::IsEmpty());
}

// A cancellation must find a run for as long as its wait lasts: a delay of
// 90 days cancelled on day 8 (the cancel index used to expire after 7 days,
// letting the message out). The simulated clock starts 8 days ago, so the
// delay is due 82 days from now: the run's records must live at least
// that long (Redis's clock cannot be moved; their expiry time is checked).
TEST_F(PipelineTest, CancelWorksForTheWholeLifeOfANinetyDayDelay) {
  harness_.reset();
  testing::HarnessOptions options = Workflows();
  options.clock_start_micros = SystemClock::Get().NowMicros() - absl::ToInt64Microseconds(absl::Hours(8 * 24));
  harness_ = std::make_unique<testing::HeraldHarness>(endpoint(), options);
  ASSERT_TRUE(harness_->ok());
  auto triggered = Trigger("trial", "rita", "", "{}", "", "trial-7");
  ASSERT_TRUE(harness_->WaitForIdle());
  auto client = Connect();
  const Keys keys(PartitionOf("rita", 4));
  const int64_t delay_end_ms =
      harness_->clock().NowMillis() + absl::ToInt64Milliseconds(absl::Hours(90 * 24));
  for (const std::string& key : {keys.CancelIndex("trial", "trial-7", "rita"), keys.CancelRecipients("trial", "trial-7"),
                                 keys.Run(triggered.runs(0).workflow_run_id())}) {
    auto expires = client->Execute({"PEXPIRETIME", key});
    ASSERT_TRUE(expires.ok());
    EXPECT_GT(expires->integer, delay_end_ms) << key << " must outlive the delay it belongs to";
  }

  harness_->clock().AdvanceMicros(absl::ToInt64Microseconds(absl::Hours(8 * 24)));
  v1::CancelRequest cancel;
  cancel.set_workflow("trial");
  cancel.set_cancellation_key("trial-7");
  cancel.add_recipients("rita");
  v1::CancelResponse cancelled;
  ASSERT_TRUE(harness_->stub().Cancel(testing::HeraldHarness::Context().get(), cancel, &cancelled).ok());
  EXPECT_EQ(cancelled.cancelled_runs(), 1);
  AdvanceAndDrain(absl::Hours(90 * 24));
  EXPECT_TRUE(harness_->AllFeedItems("rita").empty()) << "the cancelled delay still went out";
  auto status = client->Execute({"HGET", keys.Run(triggered.runs(0).workflow_run_id()), "status"});
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->str, "cancelled");
  EXPECT_THAT(WaitKeys(AllKeys()), ::testing::IsEmpty());
}

// The fan-out's caches never evict what the read in hand needs: one
// fan-out worker with room for 10 users reads 8 users, then (within their
// TTL) those 8 and 5 more in one read. Every recipient must be found and
// every opt-out honoured (the old caches cleared themselves here, so the 8
// were recorded unknown_recipient and their opt-outs ignored).
TEST_F(PipelineTest, CacheKeepsEveryRecipientOfAReadLargerThanItsRoom) {
  harness_.reset();
  testing::HarnessOptions options = Workflows();
  options.partitions = 1;  // one batch per trigger: one read
  options.fanout_threads = 1;
  options.fanout_cache_capacity = 10;
  harness_ = std::make_unique<testing::HeraldHarness>(endpoint(), options);
  ASSERT_TRUE(harness_->ok());
  std::vector<std::string> users;
  for (int i = 0; i < 13; ++i) {
    users.push_back(absl::StrCat("member-", i));
    ASSERT_TRUE(harness_->Identify(users.back(), absl::StrCat("Member ", i)).ok());
  }
  for (int i = 0; i < 4; ++i) {  // members 0-3 opt out of the in-app feed
    v1::SetPreferencesRequest request;
    request.set_user_id(users[i]);
    request.set_preferences_json(R"({"channel_types": {"in_app_feed": false}})");
    v1::Preferences stored;
    ASSERT_TRUE(harness_->stub().SetPreferences(testing::HeraldHarness::Context().get(), request, &stored).ok());
  }
  auto trigger = [&](int count) {
    v1::TriggerRequest request;
    request.set_workflow("direct");
    for (int i = 0; i < count; ++i) request.add_recipients()->set_id(users[i]);
    request.set_data_json(R"({"text": "x"})");
    v1::TriggerResponse response;
    ASSERT_TRUE(harness_->stub().Trigger(testing::HeraldHarness::Context().get(), request, &response).ok());
    ASSERT_TRUE(harness_->WaitForIdle());
  };
  trigger(8);
  trigger(13);
  auto client = Connect();
  std::vector<std::string> keys = AllKeys();
  for (int i = 0; i < 13; ++i) {
    const size_t triggers = i < 8 ? 2 : 1;
    auto records = Records(*client, keys, users[i]);
    EXPECT_EQ(records.count("not_sent/unknown_recipient"), 0u) << users[i] << " was not found";
    if (i < 4) {
      EXPECT_TRUE(harness_->AllFeedItems(users[i]).empty()) << users[i] << "'s opt-out was ignored";
      EXPECT_EQ(records.count("not_sent/preference"), triggers) << users[i];
    } else {
      EXPECT_EQ(harness_->AllFeedItems(users[i]).size(), triggers) << users[i];
    }
  }
}

}  // namespace
}  // namespace herald
