// No input crashes the parsers: thousands of deterministic mutations of a
// valid workflow file, of templates and of variable paths must each end in
// OK or INVALID_ARGUMENT (yaml-cpp exceptions included), never a crash.
#include <random>

#include "gtest/gtest.h"
#include "templates/template.h"
#include "workflow/parser.h"

namespace herald::workflow {
namespace {

constexpr char kSeed[] = R"(
key: new-comment
steps:
  - ref: digest
    type: batch
    window: 30s
    window_mode: sliding
    max_window: 5m
    batch_key: "{{ data.post_id }}"
    max_activities: 50
  - ref: feed
    type: channel
    channel_type: in_app_feed
    conditions: {any: [{variable: data.x, operator: equal_to, argument: [1, {a: b}]}]}
    template: {markdown: "{{ actor.name }} on {{ data.post_title }}", action_url: "/p/{{ data.id }}"}
)";

std::string Mutate(const std::string& seed, std::mt19937& random) {
  std::string text = seed;
  static const std::string kAlphabet = "{}[]:-|%\"'\n \t#&*!?.0123456789abcdefXYZ\\\x01\xff";
  int edits = 1 + static_cast<int>(random() % 8);
  for (int e = 0; e < edits && !text.empty(); ++e) {
    size_t at = random() % text.size();
    switch (random() % 4) {
      case 0: text[at] = kAlphabet[random() % kAlphabet.size()]; break;
      case 1: text.erase(at, 1 + random() % 8); break;
      case 2: text.insert(at, 1, kAlphabet[random() % kAlphabet.size()]); break;
      default: text.insert(at, text.substr(random() % text.size(), random() % 16)); break;
    }
  }
  return text;
}

TEST(RobustnessTest, MutatedWorkflowFilesNeverCrash) {
  std::mt19937 random(20261126);
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    auto workflow = ParseWorkflow(Mutate(kSeed, random), "fuzz.yaml");
    if (workflow.ok()) {
      ++accepted;
    } else {
      ASSERT_EQ(workflow.status().code(), absl::StatusCode::kInvalidArgument) << workflow.status();
      ASSERT_EQ(workflow.status().message().rfind("fuzz.yaml", 0), 0u) << workflow.status();
    }
  }
  EXPECT_GT(accepted, 0);
}

// Seeds with the throttle and branch steps and the computed delays
// (nested branches, terminate, a default, every delay form).
constexpr const char* kStepSeeds[] = {
    R"(
key: orders
steps:
  - {ref: limit, type: throttle, limit: 3, window: 2d, throttle_key: "{{ data.account }}"}
  - ref: route
    type: branch
    branches:
      - name: big
        conditions: [{variable: data.amount, operator: greater_than, argument: 1000}]
        steps:
          - {ref: gather, type: batch, window: 10s}
          - ref: inner
            type: branch
            branches:
              - {conditions: {any: [{variable: recipient.vip, operator: equal_to, argument: true}]}, terminate: true}
              - {default: true, steps: [{ref: pause, type: delay, delay_until: data.ship_at, before: 3d}]}
          - {ref: manager, type: channel, channel_type: in_app_feed, template: {markdown: big}}
      - {name: rest, default: true, steps: [{ref: wait, type: delay, duration_path: data.wait}]}
  - {ref: after, type: channel, channel_type: in_app_feed, template: {markdown: "after {{ data.id }}"}}
)",
    R"(
key: reminders
steps:
  - {type: delay, delay_until: recipient.renews_at, after: 1h}
  - {type: throttle, limit: 1, window: 31d}
  - {type: delay, duration: 365d}
  - {type: channel, channel_type: in_app_feed, template: {markdown: x}}
)",
};

TEST(RobustnessTest, MutatedWorkflowsWithThrottleBranchAndDelayStepsNeverCrash) {
  std::mt19937 random(20261128);
  for (const char* seed : kStepSeeds) {
    auto original = ParseWorkflow(seed, "fuzz.yaml");
    ASSERT_TRUE(original.ok()) << original.status();
    int accepted = 0;
    for (int i = 0; i < 10000; ++i) {
      auto workflow = ParseWorkflow(Mutate(seed, random), "fuzz.yaml");
      if (workflow.ok()) {
        ++accepted;
        // What parses is walkable: every next and branch entry points
        // forward, inside the steps or at their end.
        const int count = static_cast<int>(workflow->steps.size());
        for (int s = 0; s < count; ++s) {
          const Step& step = workflow->steps[s];
          ASSERT_GT(step.next, s);
          ASSERT_LE(step.next, count);
          for (const Branch& branch : step.branch.branches) {
            ASSERT_GT(branch.first, s);
            ASSERT_LE(branch.first, count);
          }
        }
      } else {
        ASSERT_EQ(workflow.status().code(), absl::StatusCode::kInvalidArgument) << workflow.status();
        ASSERT_EQ(workflow.status().message().rfind("fuzz.yaml", 0), 0u) << workflow.status();
      }
    }
    EXPECT_GT(accepted, 0);
  }
}

TEST(RobustnessTest, MutatedTemplatesAndPathsNeverCrash) {
  std::mt19937 random(7);
  nlohmann::json data = {{"a", {{"b", {1, 2, {{"c", "x"}}}}}}};
  templates::Context context;
  context.Set("data", &data);
  for (int i = 0; i < 50000; ++i) {
    std::string source = Mutate("x {{ data.a.b[2].c }} y {{data.a}} {{- data.a.b[0] -}}", random);
    auto compiled = templates::Template::Compile(source);
    if (compiled.ok()) {
      ASSERT_TRUE(compiled->Render(context).ok());
    } else {
      ASSERT_EQ(compiled.status().code(), absl::StatusCode::kInvalidArgument);
    }
    (void)context.Lookup(templates::ParsePath(Mutate("data.a.b[2].c", random)));
  }
}

}  // namespace
}  // namespace herald::workflow
