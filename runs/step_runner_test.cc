// Walking a workflow's steps for one run, without Redis: which step acts
// next, and the wait record (batch or delay) a wait step becomes — its wait
// key decides which activities share a batch, so it is checked against
// every input it must (and must not) depend on.
#include "runs/step_runner.h"

#include <set>
#include <string>
#include <vector>

#include "core/ids.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "workflow/parser.h"

namespace herald::runs {
namespace {

using nlohmann::json;

workflow::Workflow Parse(const char* yaml) {
  auto parsed = workflow::ParseWorkflow(yaml, "test.yaml");
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? std::move(*parsed) : workflow::Workflow();
}

// Two conditional waits, a feed step, an unconditional delay, an email.
constexpr char kSteps[] = R"(
key: steps
steps:
  - ref: slow
    type: delay
    duration: 5m
    conditions:
      - {variable: data.slow, operator: equal_to, argument: true}
  - ref: digest
    type: batch
    window: 30s
    conditions:
      - {variable: data.digest, operator: equal_to, argument: true}
  - ref: feed
    type: channel
    channel_type: in_app_feed
    template: {markdown: "hi"}
  - ref: pause
    type: delay
    duration: 1h
  - ref: email
    type: channel
    channel_type: email
    template: {subject: "s", html: "h"}
)";

// Ends with a wait whose condition may fail.
constexpr char kTrailingWait[] = R"(
key: trailing
steps:
  - ref: feed
    type: channel
    channel_type: in_app_feed
    template: {markdown: "hi"}
  - ref: later
    type: delay
    duration: 1m
    conditions:
      - {variable: data.again, operator: exists}
)";

constexpr char kBatchSliding[] = R"(
key: digest
steps:
  - ref: first
    type: batch
    window: 30s
    window_mode: sliding
    max_window: 5m
    max_activities: 7
    flush_leading_item: true
    batch_key: "{{ data.post_id }}"
  - ref: second
    type: batch
    window: 10s
    batch_key: "{{ data.post_id }}"
  - ref: feed
    type: channel
    channel_type: in_app_feed
    template: {markdown: "{{ total_activities }}"}
)";

// Same shape as kBatchSliding's second step, under another key.
constexpr char kBatchFixedOther[] = R"(
key: digest-other
steps:
  - ref: first
    type: batch
    window: 30s
    window_mode: sliding
    max_window: 5m
    max_activities: 7
    flush_leading_item: true
    batch_key: "{{ data.post_id }}"
  - ref: feed
    type: channel
    channel_type: in_app_feed
    template: {markdown: "x"}
)";

constexpr char kDelay[] = R"(
key: reminder
steps:
  - ref: wait
    type: delay
    duration: 90s
  - ref: feed
    type: channel
    channel_type: in_app_feed
    template: {markdown: "x"}
)";

int Next(const workflow::Workflow& workflow, int from, const json& data) {
  templates::Context context;
  context.Set("data", &data);
  return NextActionableStep(workflow, from, context, /*now_ms=*/1'000'000);
}

TEST(NextActionableStepTest, SkipsWaitsWhoseConditionsFail) {
  workflow::Workflow steps = Parse(kSteps);
  ASSERT_EQ(steps.steps.size(), 5u);
  EXPECT_EQ(Next(steps, 0, json::object()), 2);  // both waits skipped: the feed step
  EXPECT_EQ(Next(steps, 0, {{"slow", true}}), 0);
  EXPECT_EQ(Next(steps, 0, {{"digest", true}}), 1);
  EXPECT_EQ(Next(steps, 1, {{"slow", true}}), 2);  // starts at `from`
  EXPECT_EQ(Next(steps, 2, {{"slow", true}}), 2);  // a channel step acts as it is
  EXPECT_EQ(Next(steps, 3, json::object()), 3);    // an unconditional wait
  EXPECT_EQ(Next(steps, 4, json::object()), 4);
}

TEST(NextActionableStepTest, ReturnsStepCountAtTheEnd) {
  workflow::Workflow steps = Parse(kSteps);
  EXPECT_EQ(Next(steps, 5, json::object()), 5);
  workflow::Workflow trailing = Parse(kTrailingWait);
  EXPECT_EQ(Next(trailing, 1, json::object()), 2);
  EXPECT_EQ(Next(trailing, 1, {{"again", 1}}), 1);
}

class WaitAppendTest : public ::testing::Test {
 protected:
  WaitAppend Build(const workflow::Workflow& workflow, int step, const RunRef& run, const json& data) {
    templates::Context context;
    context.Set("data", &data);
    v1::internal::Activity activity;
    activity.set_run_id(run.run_id);
    activity.set_actor("ana");
    activity.set_data_json(data.dump());
    activity.set_accepted_at_us(1'700'000'000'123'456);
    return BuildWaitAppend(workflow, step, run, activity, context, /*now_ms=*/1'700'000'001'000, /*ttl=*/3600);
  }

  workflow::Workflow digest_ = Parse(kBatchSliding);
  workflow::Workflow other_ = Parse(kBatchFixedOther);
  workflow::Workflow delay_ = Parse(kDelay);
  json post1_ = {{"post_id", "p1"}, {"text", "one"}};
};

TEST_F(WaitAppendTest, BatchWaitKeyDependsOnWorkflowRecipientTenantStepAndBatchKeyOnly) {
  const RunRef run{"rita", "acme", "cancel-1", "run-1"};
  const WaitAppend base = Build(digest_, 0, run, post1_);
  // Another run (another cancellation key, other data rendering the same
  // batch key) joins the same batch.
  const WaitAppend same = Build(digest_, 0, {"rita", "acme", "cancel-2", "run-2"}, {{"post_id", "p1"}, {"text", "two"}});
  EXPECT_EQ(same.wait_key, base.wait_key);
  EXPECT_NE(same.batch_id, base.batch_id);  // but would open a batch of its own name

  EXPECT_NE(Build(other_, 0, run, post1_).wait_key, base.wait_key);                        // workflow
  EXPECT_NE(Build(digest_, 0, {"bo", "acme", "", "run-1"}, post1_).wait_key, base.wait_key);  // recipient
  EXPECT_NE(Build(digest_, 0, {"rita", "", "", "run-1"}, post1_).wait_key, base.wait_key);    // tenant
  EXPECT_NE(Build(digest_, 1, run, post1_).wait_key, base.wait_key);                        // step
  EXPECT_NE(Build(digest_, 0, run, {{"post_id", "p2"}}).wait_key, base.wait_key);            // batch key
  // Parts are joined unambiguously: moving bytes between recipient and
  // tenant is another batch.
  EXPECT_NE(Build(digest_, 0, {"rit", "aacme", "", "r"}, post1_).wait_key, base.wait_key);
}

TEST_F(WaitAppendTest, BatchAppendCopiesTheStepAndNamesTheBatchAfterTheRun) {
  const RunRef run{"rita", "acme", "cancel-1", "run-1"};
  const WaitAppend append = Build(digest_, 0, run, post1_);
  EXPECT_EQ(append.batch_id, DeterministicId({"run-1", "batch", "0"}));
  EXPECT_EQ(Build(digest_, 0, run, post1_).batch_id, append.batch_id);  // deterministic
  EXPECT_EQ(append.run_id, "run-1");
  EXPECT_EQ(append.step, 0);
  EXPECT_EQ(append.window_ms, 30'000);
  EXPECT_EQ(append.max_window_ms, 300'000);
  EXPECT_TRUE(append.sliding);
  EXPECT_EQ(append.max_activities, 7);
  EXPECT_TRUE(append.flush_leading);
  EXPECT_EQ(append.now_ms, 1'700'000'001'000);
  EXPECT_EQ(append.accepted_at_ms, 1'700'000'000'123);
  EXPECT_EQ(append.run_ttl_seconds, 3600);
  EXPECT_EQ(append.workflow, "digest");
  EXPECT_EQ(append.recipient, "rita");
  EXPECT_EQ(append.cancellation_key, "cancel-1");

  v1::internal::Activity activity;
  ASSERT_TRUE(activity.ParseFromString(append.activity_blob));
  EXPECT_EQ(activity.run_id(), "run-1");
  EXPECT_EQ(activity.actor(), "ana");

  v1::internal::BatchEnvelope header;
  ASSERT_TRUE(header.ParseFromString(append.header_blob));
  EXPECT_EQ(header.workflow(), "digest");
  EXPECT_EQ(header.tenant(), "acme");
  EXPECT_EQ(header.cancellation_key(), "cancel-1");
  EXPECT_EQ(header.resume_step(), 1);
  EXPECT_EQ(header.activities_size(), 0);
  ASSERT_EQ(header.targets_size(), 1);
  EXPECT_EQ(header.targets(0).recipient(), "rita");
  EXPECT_EQ(header.targets(0).batch_id(), append.batch_id);

  // The leading item goes out at once as its own one-activity batch.
  v1::internal::BatchEnvelope leading;
  ASSERT_FALSE(append.leading_batch_blob.empty());
  ASSERT_TRUE(leading.ParseFromString(append.leading_batch_blob));
  EXPECT_EQ(leading.workflow(), "digest");
  EXPECT_EQ(leading.tenant(), "acme");
  EXPECT_EQ(leading.resume_step(), 1);
  ASSERT_EQ(leading.targets_size(), 1);
  EXPECT_EQ(leading.targets(0).recipient(), "rita");
  EXPECT_EQ(leading.targets(0).batch_id(), DeterministicId({"run-1", "leading", "0"}));
  EXPECT_NE(leading.targets(0).batch_id(), append.batch_id);
  ASSERT_EQ(leading.activities_size(), 1);
  EXPECT_EQ(leading.activities(0).SerializeAsString(), append.activity_blob);
}

TEST_F(WaitAppendTest, FixedBatchWithoutFlushLeadingHasNoLeadingEnvelope) {
  const WaitAppend append = Build(digest_, 1, {"rita", "", "", "run-1"}, post1_);
  EXPECT_FALSE(append.flush_leading);
  EXPECT_TRUE(append.leading_batch_blob.empty());
  EXPECT_FALSE(append.sliding);
  EXPECT_EQ(append.window_ms, 10'000);
  EXPECT_EQ(append.max_window_ms, 10'000);  // a fixed window closes at its window
  EXPECT_EQ(append.max_activities, 0);
  EXPECT_EQ(append.batch_id, DeterministicId({"run-1", "batch", "1"}));
  v1::internal::BatchEnvelope header;
  ASSERT_TRUE(header.ParseFromString(append.header_blob));
  EXPECT_EQ(header.resume_step(), 2);
}

TEST_F(WaitAppendTest, DelayWaitsPerRun) {
  const RunRef run{"rita", "acme", "", "run-1"};
  const WaitAppend append = Build(delay_, 0, run, post1_);
  EXPECT_EQ(Build(delay_, 0, run, {{"other", 1}}).wait_key, append.wait_key);
  // Two runs of the same recipient, workflow and tenant never share a delay.
  EXPECT_NE(Build(delay_, 0, {"rita", "acme", "", "run-2"}, post1_).wait_key, append.wait_key);
  EXPECT_EQ(append.batch_id, DeterministicId({"run-1", "delay", "0"}));
  EXPECT_EQ(append.window_ms, 90'000);
  EXPECT_EQ(append.max_window_ms, 90'000);
  EXPECT_FALSE(append.sliding);
  EXPECT_FALSE(append.flush_leading);
  EXPECT_TRUE(append.leading_batch_blob.empty());
  v1::internal::BatchEnvelope header;
  ASSERT_TRUE(header.ParseFromString(append.header_blob));
  EXPECT_EQ(header.resume_step(), 1);
  EXPECT_EQ(header.targets(0).batch_id(), append.batch_id);
  // A delay's key and a batch's key never collide.
  EXPECT_NE(append.wait_key, Build(digest_, 0, run, post1_).wait_key);
}

TEST(DirectBatchIdTest, DeterministicPerRunAndStep) {
  EXPECT_EQ(DirectBatchId("run-1", 2), DirectBatchId("run-1", 2));
  EXPECT_EQ(DirectBatchId("run-1", 2).size(), 32u);
  std::set<std::string> ids = {DirectBatchId("run-1", 2), DirectBatchId("run-1", 3), DirectBatchId("run-2", 2),
                               DirectBatchId("run-12", 0), DirectBatchId("run-1", 20)};
  EXPECT_EQ(ids.size(), 5u);
  EXPECT_EQ(DirectBatchId("run-1", 2), DeterministicId({"run-1", "direct", "2"}));
}

}  // namespace
}  // namespace herald::runs

namespace herald::runs {
namespace {

constexpr char kBranches[] = R"(
key: orders
steps:
  - ref: route
    type: branch
    branches:
      - name: big
        conditions: [{variable: data.amount, operator: greater_than, argument: 1000}]
        steps:
          - {ref: gather, type: batch, window: 10s}
          - {ref: big_note, type: channel, channel_type: in_app_feed, template: {markdown: big}}
      - {name: blocked, conditions: [{variable: data.blocked, operator: exists}], terminate: true}
      - {name: empty, conditions: [{variable: data.skip, operator: exists}], steps: []}
      - name: rest
        default: true
        steps:
          - {ref: limit, type: throttle, limit: 1, window: 1h}
  - {ref: after, type: channel, channel_type: in_app_feed, template: {markdown: after}}
)";

TEST(BranchWalkTest, EachRunGoesIntoTheFirstBranchThatHolds) {
  workflow::Workflow orders = Parse(kBranches);
  ASSERT_EQ(orders.steps.size(), 5u);  // route, gather, big_note, limit, after
  EXPECT_EQ(Next(orders, 0, {{"amount", 2000}}), 1);                     // the big branch's batch
  EXPECT_EQ(Next(orders, 0, {{"amount", 2000}, {"blocked", 1}}), 1);    // first match wins
  EXPECT_EQ(Next(orders, 0, {{"blocked", 1}}), 5);                      // terminate: the run is done
  EXPECT_EQ(Next(orders, 0, {{"skip", 1}}), 4);                         // empty branch: on after it
  EXPECT_EQ(Next(orders, 0, json::object()), 3);                        // the default's throttle
  EXPECT_EQ(orders.steps[2].next, 4);  // the big branch ends where the branch step goes on
  EXPECT_EQ(orders.steps[3].next, 4);
}

TEST(BranchWalkTest, AWaitInABranchResumesAfterItselfAndNamesItselfInTheHeader) {
  workflow::Workflow orders = Parse(kBranches);
  json data = {{"amount", 2000}};
  templates::Context context;
  context.Set("data", &data);
  v1::internal::Activity activity;
  activity.set_run_id("run-1");
  WaitAppend append = BuildWaitAppend(orders, 1, RunRef{"rita", "", "", "run-1"}, activity, context, 1000, 3600);
  v1::internal::BatchEnvelope header;
  ASSERT_TRUE(header.ParseFromString(append.header_blob));
  EXPECT_EQ(header.resume_step(), 2);
  ASSERT_TRUE(header.has_wait_step());
  EXPECT_EQ(header.wait_step(), 1);
}

constexpr char kComputed[] = R"(
key: computed
steps:
  - {ref: by_data, type: delay, duration_path: data.wait}
  - {ref: until, type: delay, delay_until: data.at, before: 3d}
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: x}}
)";

TEST(ComputedDelayTest, DurationsAndTimesComeFromTheRun) {
  workflow::Workflow computed = Parse(kComputed);
  const int64_t now = 1'800'000'000'000;  // ms
  auto due = [&](int step, const json& data) {
    templates::Context context;
    context.Set("data", &data);
    return DelayDueMs(computed.steps[step], context, now);
  };
  EXPECT_EQ(due(0, {{"wait", "2h"}}), now + 2 * 3600 * 1000);
  EXPECT_EQ(due(0, {{"wait", 90}}), now + 90 * 1000);
  EXPECT_EQ(due(0, {{"wait", "soon"}}), std::nullopt);
  EXPECT_EQ(due(0, json::object()), std::nullopt);
  EXPECT_EQ(due(0, {{"wait", 1e10}}), now + absl::ToInt64Milliseconds(workflow::kMaxDelay));  // cut to the cap
  const int64_t day = 24 * 3600 * 1000;
  EXPECT_EQ(due(1, {{"at", "2027-01-31T09:00:00Z"}}), 1801386000000 - 3 * day);
  EXPECT_EQ(due(1, {{"at", "2027-01-31T10:00:00+01:00"}}), 1801386000000 - 3 * day);
  EXPECT_EQ(due(1, {{"at", "2027-01-31"}}), 1801353600000 - 3 * day);
  EXPECT_EQ(due(1, {{"at", 1801386000}}), 1801386000000 - 3 * day);
  EXPECT_EQ(due(1, {{"at", "next tuesday"}}), std::nullopt);
  EXPECT_EQ(due(1, {{"at", true}}), std::nullopt);

  // Past or missing: the run goes on at once (NextActionableStep passes the
  // delay); a future time stops the walk there.
  templates::Context context;
  json past = {{"at", "2020-01-01T00:00:00Z"}};
  context.Set("data", &past);
  EXPECT_EQ(NextActionableStep(computed, 1, context, now), 2);
  json future = {{"at", "2030-01-01T00:00:00Z"}, {"wait", "1m"}};
  context.Rebind("data", &future);
  EXPECT_EQ(NextActionableStep(computed, 1, context, now), 1);
  EXPECT_EQ(NextActionableStep(computed, 0, context, now), 0);
  json none = json::object();
  context.Rebind("data", &none);
  EXPECT_EQ(NextActionableStep(computed, 0, context, now), 2);
}

}  // namespace
}  // namespace herald::runs
