// Parsing the throttle and branch steps and the computed delays: the flat
// step layout branches compile into (Step::next, Branch::first), and errors
// that name the field and its line.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "workflow/parser.h"

namespace herald::workflow {
namespace {

constexpr char kOrders[] = R"(key: orders
steps:
  - {ref: limit, type: throttle, limit: 3, window: 2d, throttle_key: "{{ data.account }}"}
  - ref: route
    type: branch
    branches:
      - name: big
        conditions: [{variable: data.amount, operator: greater_than, argument: 1000}]
        steps:
          - {ref: gather, type: batch, window: 10s}
          - {ref: pause, type: delay, delay_until: data.ship_at, before: 3d}
          - {ref: manager, type: channel, channel_type: in_app_feed, template: {markdown: big}}
      - name: fallback
        default: true
        steps:
          - {ref: wait, type: delay, duration_path: data.wait}
      - name: blocked
        conditions: {any: [{variable: recipient.blocked, operator: equal_to, argument: true}]}
        terminate: true
  - {ref: after, type: channel, channel_type: in_app_feed, template: {markdown: after}}
)";

TEST(StepsParserTest, BranchesAreLaidOutFlatAndLinked) {
  auto workflow = ParseWorkflow(kOrders, "orders.yaml");
  ASSERT_TRUE(workflow.ok()) << workflow.status();
  std::vector<std::string> refs;
  for (const Step& step : workflow->steps) refs.push_back(step.ref);
  EXPECT_THAT(refs, ::testing::ElementsAre("limit", "route", "gather", "pause", "manager", "wait", "after"));
  const std::vector<Step>& steps = workflow->steps;
  EXPECT_EQ(steps[0].type, StepType::kThrottle);
  EXPECT_EQ(steps[0].throttle.limit, 3);
  EXPECT_EQ(steps[0].throttle.window, absl::Hours(48));
  EXPECT_EQ(steps[0].throttle.key.source(), "{{ data.account }}");
  EXPECT_EQ(steps[0].next, 1);
  EXPECT_EQ(steps[1].type, StepType::kBranch);
  EXPECT_EQ(steps[1].next, 6);  // after the branch step: "after"
  const std::vector<Branch>& branches = steps[1].branch.branches;
  ASSERT_EQ(branches.size(), 3u);
  // The default is tried last wherever it is written.
  EXPECT_EQ(branches[0].name, "big");
  EXPECT_EQ(branches[0].first, 2);
  EXPECT_EQ(branches[1].name, "blocked");
  EXPECT_TRUE(branches[1].terminate);
  EXPECT_EQ(branches[1].first, 7);  // empty and terminating: the end
  EXPECT_TRUE(branches[1].conditions.any);
  EXPECT_EQ(branches[2].name, "fallback");
  EXPECT_TRUE(branches[2].is_default);
  EXPECT_EQ(branches[2].first, 5);
  EXPECT_EQ(steps[2].next, 3);
  EXPECT_EQ(steps[3].next, 4);
  EXPECT_EQ(steps[4].next, 6);  // the big branch's last step goes on after the branch step
  EXPECT_EQ(steps[5].next, 6);
  EXPECT_EQ(steps[6].next, 7);
  EXPECT_EQ(steps[3].delay.until_path, (templates::Path{"data", "ship_at"}));
  EXPECT_EQ(steps[3].delay.offset, -absl::Hours(72));
  EXPECT_EQ(steps[5].delay.duration_path, (templates::Path{"data", "wait"}));
  EXPECT_TRUE(workflow->waits_read_profiles);  // the blocked branch reads the recipient
}

TEST(StepsParserTest, WorkflowsWithoutBranchesKeepTheirNumbering) {
  auto workflow = ParseWorkflow(R"(
key: plain
steps:
  - {type: delay, duration: 365d}
  - {type: channel, channel_type: in_app_feed, template: {markdown: x}}
  - {type: delay, delay_until: recipient.renews_at, after: 1h}
  - {type: channel, channel_type: in_app_feed, template: {markdown: y}}
)",
                                "plain.yaml");
  ASSERT_TRUE(workflow.ok()) << workflow.status();
  for (size_t i = 0; i < workflow->steps.size(); ++i) {
    EXPECT_EQ(workflow->steps[i].next, static_cast<int>(i) + 1);
    EXPECT_EQ(workflow->steps[i].ref, "step_" + std::to_string(i));
  }
  EXPECT_EQ(workflow->steps[0].delay.duration, absl::Hours(24 * 365));
  EXPECT_EQ(workflow->steps[2].delay.offset, absl::Hours(1));
  EXPECT_TRUE(workflow->waits_read_profiles);
}

struct BadCase {
  const char* yaml;
  const char* expected;  // substring of the error: the field, and its line
};

TEST(StepsParserTest, ErrorsNameTheFieldAndTheLine) {
  const BadCase cases[] = {
      {"key: k\nsteps:\n  - {type: throttle, window: 1h}\n  - {type: channel, channel_type: in_app_feed, template: {markdown: x}}",
       "line 3: steps[0]: field 'limit': is required"},
      {"key: k\nsteps:\n  - type: throttle\n    limit: 0\n    window: 1h\n  - {type: channel, channel_type: in_app_feed, template: {markdown: x}}",
       "line 4: steps[0]: field 'limit': must be between 1 and 100000"},
      {"key: k\nsteps:\n  - type: throttle\n    limit: 2\n    window: 32d\n  - {type: channel, channel_type: in_app_feed, template: {markdown: x}}",
       "line 5: steps[0]: field 'window': must be at most 31 days"},
      {"key: k\nsteps:\n  - {type: throttle, limit: 2}\n  - {type: channel, channel_type: in_app_feed, template: {markdown: x}}",
       "line 3: steps[0]: field 'window': is required"},
      {"key: k\nsteps:\n  - type: throttle\n    limit: 2\n    window: 1h\n    throttle_key: \"{{ x\"\n  - {type: channel, channel_type: in_app_feed, template: {markdown: x}}",
       "line 6: steps[0]: field 'throttle_key'"},
      {"key: k\nsteps:\n  - type: throttle\n    limit: 2\n    window: 1h\n    burst: 3\n  - {type: channel, channel_type: in_app_feed, template: {markdown: x}}",
       "line 6: steps[0]: field 'burst': unknown field for a throttle step"},
      {"key: k\nsteps:\n  - type: delay\n    duration: 401d\n  - {type: channel, channel_type: in_app_feed, template: {markdown: x}}",
       "line 4: steps[0]: field 'duration': must be at most 400 days"},
      {"key: k\nsteps:\n  - type: delay\n    duration: 1h\n    delay_until: data.at\n  - {type: channel, channel_type: in_app_feed, template: {markdown: x}}",
       "line 3: steps[0]: field 'delay_until': give one of"},
      {"key: k\nsteps:\n  - type: delay\n    delay_until: payload.at\n  - {type: channel, channel_type: in_app_feed, template: {markdown: x}}",
       "line 4: steps[0]: field 'delay_until': must be a path under data, recipient, actor or tenant"},
      {"key: k\nsteps:\n  - type: delay\n    duration_path: data\n  - {type: channel, channel_type: in_app_feed, template: {markdown: x}}",
       "line 4: steps[0]: field 'duration_path'"},
      {"key: k\nsteps:\n  - type: delay\n    duration: 1h\n    before: 1d\n  - {type: channel, channel_type: in_app_feed, template: {markdown: x}}",
       "line 5: steps[0]: field 'before': applies only with 'delay_until'"},
      {"key: k\nsteps:\n  - type: delay\n    delay_until: data.at\n    before: 1d\n    after: 2d\n  - {type: channel, channel_type: in_app_feed, template: {markdown: x}}",
       "field 'before': give 'before' or 'after', not both"},
      {"key: k\nsteps:\n  - type: delay\n    delay_until: data.at\n    after: soon\n  - {type: channel, channel_type: in_app_feed, template: {markdown: x}}",
       "line 5: steps[0]: field 'after': 'soon' is not a duration"},
      {"key: k\nsteps:\n  - {type: branch}\n  - {type: channel, channel_type: in_app_feed, template: {markdown: x}}",
       "line 3: steps[0]: field 'branches': must be a non-empty list"},
      {"key: k\nsteps:\n  - type: branch\n    branches:\n      - name: a\n        steps: []\n  - {type: channel, channel_type: in_app_feed, template: {markdown: x}}",
       "line 5: steps[0]: field 'branches[0].conditions': is required (or 'default: true')"},
      {"key: k\nsteps:\n  - type: branch\n    branches:\n      - {default: true}\n      - {default: true}\n  - {type: channel, channel_type: in_app_feed, template: {markdown: x}}",
       "line 6: steps[0]: field 'branches[1].default': only one branch may be the default"},
      {"key: k\nsteps:\n  - type: branch\n    branches:\n      - default: true\n        terminate: maybe\n  - {type: channel, channel_type: in_app_feed, template: {markdown: x}}",
       "line 6: steps[0]: field 'terminate': must be true or false"},
      {"key: k\nsteps:\n  - type: branch\n    branches:\n      - default: true\n        goto: x\n  - {type: channel, channel_type: in_app_feed, template: {markdown: x}}",
       "line 6: steps[0]: field 'branches[0].goto': unknown field for a branch"},
      {"key: k\nsteps:\n  - type: branch\n    branches:\n      - conditions: [{variable: data.x, operator: sometimes, argument: 1}]\n  - {type: channel, channel_type: in_app_feed, template: {markdown: x}}",
       "line 5: steps[0]: field 'branches[0].conditions[0].operator'"},
      {"key: k\nsteps:\n  - type: branch\n    branches:\n      - default: true\n        steps:\n          - {type: throttle, limit: 1, window: 1h, extra: 1}\n  - {type: channel, channel_type: in_app_feed, template: {markdown: x}}",
       "line 7: steps[0].branches[0].steps[0]: field 'extra': unknown field for a throttle step"},
      {"key: k\nsteps:\n  - {type: teleport}\n  - {type: channel, channel_type: in_app_feed, template: {markdown: x}}",
       "line 3: steps[0]: field 'type': must be batch, delay, channel, throttle or branch"},
      {"key: k\nsteps:\n  - {ref: a, type: channel, channel_type: in_app_feed, template: {markdown: x}}\n  - type: branch\n    branches:\n      - default: true\n        steps:\n          - {ref: a, type: channel, channel_type: in_app_feed, template: {markdown: x}}",
       "steps[1].branches[0].steps[0] (ref 'a'): field 'ref': is used by an earlier step"},
  };
  for (const BadCase& bad : cases) {
    auto workflow = ParseWorkflow(bad.yaml, "bad.yaml");
    ASSERT_FALSE(workflow.ok()) << bad.yaml;
    EXPECT_EQ(workflow.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(workflow.status().message()), ::testing::HasSubstr(bad.expected)) << bad.yaml;
    EXPECT_THAT(std::string(workflow.status().message()), ::testing::StartsWith("bad.yaml")) << bad.yaml;
  }
}

}  // namespace
}  // namespace herald::workflow
