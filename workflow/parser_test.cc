#include "workflow/parser.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "workflow/registry.h"

namespace herald::workflow {
namespace {

constexpr char kDigest[] = R"(
key: new-comment
name: New comment
categories: [comments]
steps:
  - ref: digest
    type: batch
    window: 30s
    window_mode: sliding
    max_window: 5m
    batch_key: "{{ data.post_id }}"
    max_activities: 50
    render_limit: 3
    order: newest_first
  - ref: feed
    type: channel
    channel_type: in_app_feed
    conditions:
      any:
        - {variable: data.priority, operator: equal_to, argument: high}
        - {variable: recipient.id, operator: exists}
    template:
      markdown: "{{ actor.name }} commented on {{ data.post_title }}"
      action_url: "/posts/{{ data.post_id }}"
)";

TEST(ParserTest, ParsesEveryStepField) {
  auto workflow = ParseWorkflow(kDigest, "digest.yaml");
  ASSERT_TRUE(workflow.ok()) << workflow.status();
  EXPECT_EQ(workflow->key, "new-comment");
  ASSERT_EQ(workflow->steps.size(), 2u);
  const BatchStep& batch = workflow->steps[0].batch;
  EXPECT_EQ(workflow->steps[0].type, StepType::kBatch);
  EXPECT_EQ(batch.window, absl::Seconds(30));
  EXPECT_EQ(batch.mode, WindowMode::kSliding);
  EXPECT_EQ(batch.max_window, absl::Minutes(5));
  EXPECT_EQ(batch.key.source(), "{{ data.post_id }}");
  EXPECT_EQ(batch.max_activities, 50);
  EXPECT_EQ(batch.render_limit, 3);
  EXPECT_TRUE(batch.newest_first);
  const Step& feed = workflow->steps[1];
  EXPECT_TRUE(feed.conditions.any);
  EXPECT_EQ(feed.conditions.conditions.size(), 2u);
  ASSERT_EQ(feed.channel.blocks.size(), 2u);
  EXPECT_EQ(feed.channel.blocks[1].name, "action_url");
  EXPECT_FALSE(workflow->waits_read_profiles);  // batch key reads data only
}

struct BadCase {
  const char* yaml;
  const char* expected;  // substring of the error
};

TEST(ParserTest, ErrorsNameFileStepAndField) {
  const BadCase cases[] = {
      {"key: a\nsteps: []", "f.yaml: field 'steps'"},
      {"steps: [{type: channel}]", "field 'key'"},
      {"key: a\nsteps:\n  - {ref: b, type: batch, window: soon}\n  - {type: channel, channel_type: in_app_feed, "
       "template: {markdown: x}}",
       "steps[0] (ref 'b'): field 'window': 'soon' is not a duration"},
      {"key: a\nsteps:\n  - {type: batch, window: 5s, window_mode: rolling}\n  - {type: channel, channel_type: "
       "in_app_feed, template: {markdown: x}}",
       "field 'window_mode'"},
      {"key: a\nsteps:\n  - {type: channel, channel_type: fax, template: {markdown: x}}", "field 'channel_type'"},
      {"key: a\nsteps:\n  - {type: channel, channel_type: in_app_feed, template: {markdown: '{{ x'}}",
       "field 'template.markdown': template 1:1: unclosed"},
      {"key: a\nsteps:\n  - {type: channel, channel_type: in_app_feed, template: {markdown: x}, conditions: "
       "[{variable: data.x, operator: bigger, argument: 1}]}",
       "field 'conditions[0].operator'"},
      {"key: a\nsteps:\n  - {type: delay}\n  - {type: channel, channel_type: in_app_feed, template: {markdown: x}}",
       "steps[0]: field 'duration'"},
      {"key: a\nsteps:\n  - {type: delay, duration: 1s}", "needs at least one channel step"},
      {"key: a\nsteps: [\n", "f.yaml: line"},
      {"key: a\nbogus: 1\nsteps: []", "field 'bogus': unknown field"},
      {"key: a\nsteps:\n  - {type: channel, channel_type: email, template: {html: x}}",
       "field 'template.subject': is required"},
      {"key: a\nsteps:\n  - {type: channel, channel_type: email, template: {subject: s}}",
       "field 'template.html': is required (or 'markdown')"},
      {"key: a\nsteps:\n  - {type: channel, channel_type: email, template: {subject: s, html: h, markdown: m}}",
       "field 'template.html': give 'html' or 'markdown', not both"},
      {"key: a\nsteps:\n  - {type: channel, channel_type: sms, template: {text: t, title: x}}",
       "field 'template.title': unknown field for sms"},
      {"key: a\nsteps:\n  - {type: channel, channel_type: push, template: {title: t, body: b, data: [1]}}",
       "field 'template.data': must be a map"},
      {"key: a\nsteps:\n  - {type: channel, channel_type: push, template: {title: t, body: '{% if %}'}}",
       "field 'template.body'"},
      {"key: a\nsteps:\n  - {type: channel, channel_type: chat}", "field 'template': is required"},
  };
  for (const BadCase& bad : cases) {
    auto workflow = ParseWorkflow(bad.yaml, "f.yaml");
    ASSERT_FALSE(workflow.ok()) << bad.yaml;
    EXPECT_EQ(workflow.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(workflow.status().message().find(bad.expected), std::string::npos)
        << "got: " << workflow.status().message() << "\nwanted: " << bad.expected;
  }
}

TEST(ParserTest, ChannelTypesCompileTheirOwnFields) {
  auto workflow = ParseWorkflow(R"(
key: all
steps:
  - {type: channel, channel_type: email, template: {subject: "s {{ x }}", markdown: "**m**", text: t}}
  - {type: channel, channel_type: push, channel: apns, template: {title: t, body: b, data: {id: "{{ data.id }}"}}}
  - {type: channel, channel_type: chat, channel: slack, template: {text: t, blocks: "[]"}}
)", "all.yaml");
  ASSERT_TRUE(workflow.ok()) << workflow.status();
  std::vector<std::string> blocks;
  for (const Step& step : workflow->steps) {
    for (const BlockTemplate& block : step.channel.blocks) {
      blocks.push_back(absl::StrCat(step.channel.channel, ":", block.name, ":", block.type));
    }
  }
  EXPECT_EQ(blocks, (std::vector<std::string>{"email:subject:text", "email:html:markdown", "email:text:text",
                                              "apns:title:text", "apns:body:text", "apns:data.id:text",
                                              "slack:text:text", "slack:blocks:json"}));
}

TEST(ParserTest, JsonIsAccepted) {
  auto workflow = ParseWorkflow(
      R"({"key": "j", "steps": [{"type": "channel", "channel_type": "in_app_feed", "template": {"markdown": "hi"}}]})",
      "j.json");
  ASSERT_TRUE(workflow.ok()) << workflow.status();
  EXPECT_EQ(workflow->steps[0].ref, "step_0");
}

TEST(RegistryTest, DuplicateKeysAreRejected) {
  auto a = ParseWorkflow(kDigest, "a.yaml");
  auto b = ParseWorkflow(kDigest, "b.yaml");
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<Workflow> both;
  both.push_back(std::move(*a));
  both.push_back(std::move(*b));
  auto registry = Registry::FromWorkflows(std::move(both));
  ASSERT_FALSE(registry.ok());
  EXPECT_NE(registry.status().message().find("b.yaml"), std::string::npos);
}

}  // namespace
}  // namespace herald::workflow

namespace herald::workflow {
namespace {

TEST(ParserTest, KnowsWhenWaitStepsReadProfiles) {
  auto by_key = ParseWorkflow(R"(
key: k
steps:
  - {type: batch, window: 5s, batch_key: "{{ recipient.team }}"}
  - {type: channel, channel_type: in_app_feed, template: {markdown: x}}
)",
                              "k.yaml");
  ASSERT_TRUE(by_key.ok()) << by_key.status();
  EXPECT_TRUE(by_key->waits_read_profiles);
  auto by_condition = ParseWorkflow(R"(
key: c
steps:
  - {type: delay, duration: 5s, conditions: [{variable: actor.role, operator: equal_to, argument: admin}]}
  - {type: channel, channel_type: in_app_feed, template: {markdown: x}, conditions: [{variable: recipient.x, operator: exists}]}
)",
                                    "c.yaml");
  ASSERT_TRUE(by_condition.ok()) << by_condition.status();
  EXPECT_TRUE(by_condition->waits_read_profiles);
}

}  // namespace
}  // namespace herald::workflow
