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

TEST(ParserTest, AnInAppStepNamesItsFeedOrWritesToMain) {
  auto workflow = ParseWorkflow(
      "key: a\nsteps:\n  - {type: channel, channel_type: in_app_feed, feed: announcements, template: {markdown: x}}\n"
      "  - {type: channel, channel_type: in_app_feed, template: {markdown: y}}\n",
      "f.yaml");
  ASSERT_TRUE(workflow.ok()) << workflow.status();
  EXPECT_EQ(workflow->steps[0].channel.feed, "announcements");
  EXPECT_EQ(workflow->steps[1].channel.feed, "main");
}

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
      {"key: a\nsteps:\n  - type: channel\n    channel_type: in_app_feed\n    feed: 'big news'\n    template: {markdown: x}",
       "steps[0]: field 'feed': line 5: 'big news' is not a feed name"},
      {"key: a\nsteps:\n  - {type: channel, channel_type: in_app_feed, feed: '', template: {markdown: x}}",
       "field 'feed': line 3: must not be empty"},
      {"key: a\nsteps:\n  - {type: channel, channel_type: sms, feed: news, template: {text: t}}",
       "field 'feed': line 3: only an in_app_feed step names a feed"},
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
      {"key: a\nsteps:\n  - {type: channel, channel_type: sms, template: {text: t}, fallbak: x}",
       "steps[0]: field 'fallbak': unknown field for a channel step"},
      {"key: a\nsteps:\n  - {type: delay, duration: 1s, window: 5s}\n  - {type: channel, channel_type: sms, "
       "template: {text: t}}",
       "field 'window': unknown field for a delay step"},
      {"key: a\nsteps:\n  - {type: channel, channel_type: sms, template: {text: t}, fallback: x}",
       "steps[0]: field 'fallback': no step 'x'"},
      {"key: a\nsteps:\n  - {ref: s, type: channel, channel_type: sms, template: {text: t}, fallback: w}\n"
       "  - {ref: w, type: delay, duration: 1s}",
       "steps[0] (ref 's'): field 'fallback': step 'w' is not a channel step"},
      {"key: a\nsteps:\n  - {ref: p, type: channel, channel_type: sms, template: {text: t}, fallback: q}\n"
       "  - {ref: q, type: channel, channel_type: sms, channel: s2, template: {text: t}, fallback: p}",
       "steps[0] (ref 'p'): field 'fallback': the fallback chain comes back to this step (a cycle)"},
      {"key: a\nsteps:\n  - {ref: p, type: channel, channel_type: sms, template: {text: t}, fallback: p}",
       "(a cycle)"},
      {"key: a\nsteps:\n  - {ref: e, type: channel, channel_type: sms, template: {text: t}, conditions: "
       "[{variable: refs.later.status, operator: equal_to, argument: sent}]}\n"
       "  - {ref: later, type: channel, channel_type: in_app_feed, template: {markdown: x}}",
       "field 'conditions[0].variable': no earlier step 'later'"},
      {"key: a\nsteps:\n  - {ref: f, type: channel, channel_type: in_app_feed, template: {markdown: x}}\n"
       "  - {type: channel, channel_type: sms, template: {text: t}, conditions: "
       "[{variable: refs.f.opened, operator: exists}]}",
       "field 'conditions[0].variable': must be refs.<step ref>.status or refs.<step ref>.engagement_status"},
      {"key: a\nsteps:\n  - {ref: f, type: channel, channel_type: in_app_feed, template: {markdown: x}}\n"
       "  - {type: channel, channel_type: sms, template: {text: t}, conditions: "
       "[{variable: refs.f.engagement_status, operator: less_than, argument: opened}]}",
       "field 'conditions[0].argument': must be a message status for an ordered comparison (undelivered < "},
      {"key: a\nsteps:\n  - {type: channel, channel_type: webhook, template: {body: '{}', method: POST}}",
       "field 'template.method': unknown field for webhook"},
      {"key: a\nsteps:\n  - {type: channel, channel_type: webhook, template: {headers: {'Bad Header': x}}}",
       "field 'template.headers.Bad Header': is not an HTTP header name"},
      {"key: a\nsteps:\n  - {type: channel, channel_type: webhook, template: {headers: {X-Herald-Event: x}}}",
       "field 'template.headers.X-Herald-Event': is set by Herald"},
      {"key: a\nsteps:\n  - {type: channel, channel_type: webhook, template: {body: {a: 1}}}",
       "field 'template.body': must be a non-empty string"},
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

TEST(ParserTest, RefsFallbacksWebhooksAndSenders) {
  auto workflow = ParseWorkflow(R"(
key: escalate
steps:
  - {ref: in_app, type: channel, channel_type: in_app_feed, template: {markdown: x}}
  - {ref: wait, type: delay, duration: 10m}
  - ref: push
    type: channel
    channel_type: push
    fallback: sms
    conditions: [{variable: refs.in_app.engagement_status, operator: less_than, argument: read}]
    template: {title: t, body: b}
  - ref: sms
    type: channel
    channel_type: sms
    fallback: email
    template: {text: t}
  - ref: email
    type: channel
    channel_type: email
    template: {subject: s, html: h, from: "{{ tenant.name }} <a@b.c>", reply_to: r@b.c}
  - ref: hook
    type: channel
    channel_type: webhook
    template: {url: "https://x/{{ recipient.id }}", body: '{"a": 1}', headers: {X-Key: k}}
)", "escalate.yaml");
  ASSERT_TRUE(workflow.ok()) << workflow.status();
  const std::vector<Step>& steps = workflow->steps;
  EXPECT_TRUE(workflow->reads_refs);
  EXPECT_FALSE(workflow->waits_read_profiles);
  EXPECT_TRUE(steps[2].conditions.conditions[0].status_order);
  EXPECT_EQ(steps[2].channel.fallback_step, 3);
  EXPECT_EQ(steps[3].channel.fallback_step, 4);
  EXPECT_FALSE(steps[2].fallback_only);
  EXPECT_TRUE(steps[3].fallback_only);
  EXPECT_TRUE(steps[4].fallback_only);
  EXPECT_FALSE(steps[5].fallback_only);
  std::vector<std::string> blocks;
  for (size_t i = 4; i < steps.size(); ++i) {
    for (const BlockTemplate& block : steps[i].channel.blocks) blocks.push_back(absl::StrCat(block.name, ":", block.type));
  }
  EXPECT_EQ(blocks, (std::vector<std::string>{"subject:text", "html:html", "from:text", "reply_to:text", "url:text",
                                              "body:json", "headers.X-Key:text"}));
  // A webhook step needs no template at all.
  EXPECT_TRUE(ParseWorkflow("key: h\nsteps: [{type: channel, channel_type: webhook}]", "h.yaml").ok());
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

TEST(RegistryTest, FromDocumentsParsesEachAndStopsAtTheFirstBadOne) {
  auto registry = Registry::FromDocuments({kDigest}, "inline.yaml");
  ASSERT_TRUE(registry.ok()) << registry.status();
  EXPECT_EQ(registry.value()->all().size(), 1u);
  auto bad = Registry::FromDocuments({kDigest, "key: [unclosed"}, "inline.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << bad.status();
  EXPECT_NE(bad.status().message().find("inline.yaml"), std::string::npos) << bad.status();
  auto twice = Registry::FromDocuments({kDigest, kDigest}, "inline.yaml");
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("already defined"), std::string::npos) << twice.status();
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
