// The fan-out's decisions at throttle and branch steps, without Redis: a
// run reaching a throttle is handed to the throttle check with the envelope
// it goes on with and the record it gets when stopped; branches are decided
// on what the run's earlier steps planned; a wait inside a branch resumes
// after itself.
#include <memory>
#include <string>
#include <vector>

#include "core/ids.h"
#include "fanout/batch_plan.h"
#include "fanout/plan_test_fakes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "workflow/parser.h"

namespace herald::fanout {
namespace {

using nlohmann::json;

constexpr char kLimited[] = R"(
key: limited
steps:
  - {ref: first, type: channel, channel_type: in_app_feed, template: {markdown: "one"}}
  - {ref: hourly, type: throttle, limit: 2, window: 1h, throttle_key: "{{ data.topic }}"}
  - {ref: second, type: channel, channel_type: in_app_feed, template: {markdown: "two"}}
)";

constexpr char kRouted[] = R"(
key: routed
steps:
  - {ref: first, type: channel, channel_type: in_app_feed, template: {markdown: "one"}}
  - ref: route
    type: branch
    branches:
      - name: sent
        conditions: [{variable: refs.first.status, operator: equal_to, argument: delivered}]
        steps:
          - {ref: gather, type: batch, window: 10s, render_limit: 1}
          - {ref: second, type: channel, channel_type: in_app_feed, template: {markdown: "two {{ total_activities }} {{ activities | size }}"}}
      - {name: other, default: true, terminate: true}
  - {ref: last, type: channel, channel_type: in_app_feed, template: {markdown: "last"}}
)";

// A workflow without branches, as runs waiting since before the upgrade
// know it: their headers have no wait_step.
constexpr char kDigest[] = R"(
key: digest
steps:
  - {ref: gather, type: batch, window: 10s, render_limit: 2}
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "{{ total_activities }} {{ activities | size }}"}}
)";

constexpr int64_t kNowUs = 1'700'000'000'000'000;

class StepsPlanTest : public ::testing::Test {
 protected:
  StepsPlanTest() {
    auto registry = workflow::Registry::FromDocuments({kLimited, kRouted, kDigest}, "test.yaml");
    EXPECT_TRUE(registry.ok()) << registry.status();
    registry_ = std::move(*registry);
    users_.Add("rita", {{"id", "rita"}, {"name", "Rita"}});
  }

  BatchPlan Plan(v1::internal::BatchEnvelope& envelope) const {
    return PlanBatch(PlanContext{*registry_, users_, preferences_, tenants_}, envelope, kNowUs);
  }

  static v1::internal::BatchEnvelope Envelope(const std::string& workflow, int resume_step, int activities) {
    v1::internal::BatchEnvelope envelope;
    envelope.set_workflow(workflow);
    envelope.set_resume_step(resume_step);
    auto* target = envelope.add_targets();
    target->set_recipient("rita");
    target->set_batch_id("batch-rita");
    for (int n = 1; n <= activities; ++n) {
      auto* activity = envelope.add_activities();
      activity->set_run_id("run-" + std::to_string(n));
      activity->set_data_json(json{{"topic", "db"}, {"n", n}}.dump());
      activity->set_sequence(n);
    }
    return envelope;
  }

  std::unique_ptr<workflow::Registry> registry_;
  FakeUsers users_;
  FakePreferences preferences_;
  FakeTenants tenants_;
};

std::vector<std::string> Bodies(const BatchPlan& plan) {
  std::vector<std::string> bodies;
  for (const feed::NewItem& item : plan.feed_items) bodies.push_back(item.item.blocks(0).markdown());
  return bodies;
}

TEST_F(StepsPlanTest, AThrottleHandsTheRunToItsCheckWithTheEnvelopeItGoesOnWith) {
  v1::internal::BatchEnvelope envelope = Envelope("limited", 0, 2);
  BatchPlan plan = Plan(envelope);
  EXPECT_THAT(Bodies(plan), ::testing::ElementsAre("one"));  // the step after the throttle waits for it
  ASSERT_EQ(plan.throttles.size(), 1u);
  const PlannedThrottle& throttle = plan.throttles[0];
  EXPECT_EQ(throttle.check.digest, DeterministicId({"limited", "hourly", "rita", "db"}));
  EXPECT_EQ(throttle.check.run_id, "batch-rita");
  EXPECT_EQ(throttle.check.step, 1);
  EXPECT_EQ(throttle.check.limit, 2);
  EXPECT_EQ(throttle.check.window_ms, 3'600'000);
  EXPECT_EQ(throttle.check.now_ms, kNowUs / 1000);
  EXPECT_EQ(throttle.record.status, "not_sent");
  EXPECT_EQ(throttle.record.reason, "throttled");
  EXPECT_EQ(throttle.record.recipient, "rita");
  EXPECT_EQ(throttle.record.workflow_run_id, "batch-rita");
  EXPECT_THAT(throttle.record.rule, ::testing::HasSubstr("hourly"));

  v1::internal::BatchEnvelope next;
  ASSERT_TRUE(next.ParseFromString(throttle.check.envelope_blob));
  EXPECT_EQ(next.resume_step(), 2);
  ASSERT_EQ(next.targets_size(), 1);
  EXPECT_EQ(next.targets(0).batch_id(), DeterministicId({"batch-rita", "throttle", "1"}));
  EXPECT_EQ(next.activities_size(), 2);  // the batch goes on whole
  // The message of the step before travels with the run (for refs).
  EXPECT_EQ(next.activities(1).step_messages().count("first"), 1u);

  // Going on: the step after the throttle, and no throttle again.
  BatchPlan after = Plan(next);
  EXPECT_THAT(Bodies(after), ::testing::ElementsAre("two"));
  EXPECT_TRUE(after.throttles.empty());
}

TEST_F(StepsPlanTest, BranchesDecideOnWhatTheRunPlannedAndAWaitInABranchResumesAfterItself) {
  v1::internal::BatchEnvelope envelope = Envelope("routed", 0, 1);
  BatchPlan plan = Plan(envelope);
  EXPECT_THAT(Bodies(plan), ::testing::ElementsAre("one"));
  ASSERT_EQ(plan.waits.size(), 1u);  // refs.first.status is delivered: into the batch
  EXPECT_EQ(plan.waits[0].step, 2);
  v1::internal::BatchEnvelope header;
  ASSERT_TRUE(header.ParseFromString(plan.waits[0].header_blob));
  EXPECT_EQ(header.resume_step(), 3);
  EXPECT_EQ(header.wait_step(), 2);

  // The batch flushes with three activities: its render_limit applies (the
  // header names the wait), then the step after the branch.
  v1::internal::BatchEnvelope flushed = Envelope("routed", 3, 3);
  flushed.set_wait_step(2);
  BatchPlan after = Plan(flushed);
  EXPECT_THAT(Bodies(after), ::testing::ElementsAre("two 3 1", "last"));
}

// A batch flushed from a header an older Herald wrote (no wait_step): its
// wait is the step before its resume step, and its render_limit applies.
TEST_F(StepsPlanTest, ABatchWithoutAWaitStepResumesAsBeforeBranches) {
  v1::internal::BatchEnvelope older = Envelope("digest", 1, 3);
  ASSERT_FALSE(older.has_wait_step());
  EXPECT_THAT(Bodies(Plan(older)), ::testing::ElementsAre("3 2"));
}

}  // namespace
}  // namespace herald::fanout
