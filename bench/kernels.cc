// Google Benchmark kernels for the hot path: the batch append and claim
// scripts against a real redis-server, template rendering, trigger
// planning and the protobuf encoding of events.
#include <benchmark/benchmark.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "runs/wait_store.h"
#include "core/keys.h"
#include "feed/feed_store.h"
#include "herald/v1/pipeline.pb.h"
#include "preferences/preferences.h"
#include "redis/embedded_server.h"
#include "services/api/trigger_planner.h"
#include "templates/markdown.h"
#include "templates/template.h"
#include "workflow/parser.h"
#include "workflow/registry.h"

namespace herald {
namespace {

redis::RedisClient& BenchRedis() {
  static std::unique_ptr<redis::EmbeddedServer> server;
  static std::unique_ptr<redis::RedisClient> client;
  if (!client) {
    char pattern[] = "/tmp/herald-kernels-XXXXXX";
    redis::EmbeddedServerOptions options;
    options.data_dir = mkdtemp(pattern);
    options.append_only = false;
    server = std::move(*redis::EmbeddedServer::Start(options));
    client = std::move(*redis::ConnectRedis(server->endpoint()));
  }
  return *client;
}

// `activity` gets the run's id (the wait store dedupes by it).
runs::WaitAppend Append(int64_t i, v1::internal::Activity& activity) {
  runs::WaitAppend append;
  append.wait_key = absl::StrCat("wk", i % 100);
  v1::internal::BatchEnvelope header;
  header.set_workflow("digest");
  header.set_resume_step(1);
  header.add_targets()->set_batch_id(absl::StrCat("batch-", i));
  append.header_blob = header.SerializeAsString();
  append.run_id = absl::StrCat("run-", i);
  activity.set_run_id(append.run_id);
  append.activity_blob = activity.SerializeAsString();
  append.now_ms = 1000 + i;
  append.accepted_at_ms = append.now_ms;
  append.window_ms = 1;
  append.max_window_ms = 1;
  return append;
}

// Appends then claims in pipelines of 64, as the batcher and flusher do.
void BM_BatchAppendAndClaimScripts(benchmark::State& state) {
  redis::RedisClient& client = BenchRedis();
  (void)client.Execute({"FLUSHALL"});
  Keys keys(0);
  v1::internal::Activity activity;
  activity.set_actor("actor-1");
  activity.set_data_json(R"({"post_id": "p1", "post_title": "Launch plan"})");
  int64_t i = 0;
  for (auto _ : state) {
    std::vector<redis::Command> commands;
    for (int n = 0; n < 64; ++n, ++i) commands.push_back(runs::AppendCommand(keys, Append(i, activity)));
    commands.push_back(runs::ClaimCommand(keys, 1000 + i, 256));
    auto replies = client.Pipeline(commands);
    benchmark::DoNotOptimize(replies);
  }
  state.SetItemsProcessed(i);
}
BENCHMARK(BM_BatchAppendAndClaimScripts)->Unit(benchmark::kMicrosecond);

// Inserts feed items for 100 recipients per script call, as the fan-out does
// for one batch: the Redis cost of one notification, growing the dataset.
void BM_FeedInsertMany(benchmark::State& state) {
  redis::RedisClient& client = BenchRedis();
  (void)client.Execute({"FLUSHALL"});
  Keys keys(0);
  int64_t i = 0;
  for (auto _ : state) {
    std::vector<feed::NewItem> items(100);
    for (feed::NewItem& item : items) {
      item.recipient = absl::StrCat("user-", i % 1000);
      item.channel = "in_app_feed";
      item.accepted_at_us = 1700000000000000 + i;
      item.inserted_at_us = item.accepted_at_us + 1000;
      item.item.set_id(absl::StrCat("0123456789abcdef", i++));
      item.item.set_workflow("new-comment");
      auto* block = item.item.add_blocks();
      block->set_name("body");
      block->set_type("markdown");
      block->set_content("{{ actor.name }} commented on **{{ data.post_title }}**");
      block->set_rendered("Ana commented on **Launch plan**");
      item.item.add_actors("actor-1");
      item.item.set_total_activities(1);
      item.item.set_total_actors(1);
      item.item.set_data_json(R"({"post_id": "p1", "post_title": "Launch plan", "comment": "Looks good to me"})");
    }
    auto reply = client.Pipeline({feed::InsertManyCommand(keys, items)});
    benchmark::DoNotOptimize(reply);
  }
  state.SetItemsProcessed(i);
}
BENCHMARK(BM_FeedInsertMany)->Unit(benchmark::kMicrosecond);

void BM_TemplateRender(benchmark::State& state) {
  auto compiled = templates::Template::Compile(
      "{{ actor.name }} and {{ total_actors }} others commented on **{{ data.post_title }}** for {{ recipient.name }}");
  nlohmann::json actor = {{"id", "ana"}, {"name", "Ana"}};
  nlohmann::json data = {{"post_title", "Launch plan"}, {"post_id", "p1"}};
  nlohmann::json recipient = {{"id", "rita"}, {"name", "Rita"}};
  nlohmann::json total_actors = 4;
  templates::Context context;
  context.Set("actor", &actor);
  context.Set("data", &data);
  context.Set("recipient", &recipient);
  context.Set("total_actors", &total_actors);
  for (auto _ : state) {
    std::string out;
    (void)compiled->RenderTo(context, &out);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_TemplateRender);

// A typical batched notification: a branch on the totals, filters, a
// loop-free sentence, as in examples/workflows/new-comment.yaml.
void BM_TemplateRenderTypicalLiquid(benchmark::State& state) {
  auto compiled = templates::Template::Compile(
      "{% if total_actors > 2 %}{{ actors[0].name }}, {{ actors[1].name }} and {{ total_actors | minus: 2 }} "
      "{{ total_actors | minus: 2 | pluralize: 'other' }}{% elsif total_actors == 2 %}{{ actors[0].name }} and "
      "{{ actors[1].name }}{% else %}{{ actor.name }}{% endif %} commented on **{{ data.post_title | escape }}**");
  nlohmann::json actor = {{"id", "ana"}, {"name", "Ana"}};
  nlohmann::json actors = nlohmann::json::array({{{"id", "ana"}, {"name", "Ana"}}, {{"id", "bo"}, {"name", "Bo"}},
                                                 {{"id", "cy"}, {"name", "Cy"}}, {{"id", "di"}, {"name", "Di"}},
                                                 {{"id", "ed"}, {"name", "Ed"}}});
  nlohmann::json data = {{"post_title", "Launch plan"}, {"post_id", "p1"}};
  nlohmann::json total_actors = 5;
  templates::Context context;
  context.Set("actor", &actor);
  context.Set("actors", &actors);
  context.Set("data", &data);
  context.Set("total_actors", &total_actors);
  for (auto _ : state) {
    std::string out;
    (void)compiled->RenderTo(context, &out);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_TemplateRenderTypicalLiquid);

// Preferences for one message: environment, tenant and user sets with a
// channel-type, workflow and category setting each, one with conditions.
void BM_PreferenceEvaluate(benchmark::State& state) {
  auto parse = [](const char* text) {
    return *preferences::ParsePreferenceSet(nlohmann::json::parse(text), "preferences");
  };
  preferences::PreferenceSet environment = parse(R"({"channel_types": {"sms": false}, "categories": {"marketing": false}})");
  preferences::PreferenceSet tenant = parse(R"({"workflows": {"new-comment": {"channel_types": {"email": false}}}})");
  preferences::PreferenceSet user = parse(R"({"channel_types": {"email": true},
      "workflows": {"new-comment": {"conditions": [{"variable": "recipient.plan", "operator": "equal_to", "argument": "pro"}]}},
      "categories": {"social": true}})");
  nlohmann::json recipient = {{"id", "rita"}, {"plan", "pro"}};
  templates::Context context;
  context.Set("recipient", &recipient);
  preferences::LevelSets sets{&environment, &tenant, &user, nullptr};
  preferences::Question question{"new-comment", {"social"}, "in_app_feed", false};
  for (auto _ : state) {
    preferences::Decision decision = preferences::Evaluate(question, sets, context);
    benchmark::DoNotOptimize(decision);
  }
}
BENCHMARK(BM_PreferenceEvaluate);

void BM_MarkdownToHtml(benchmark::State& state) {
  const std::string markdown = "Ana, Bo and 3 others commented on **Launch plan**";
  for (auto _ : state) benchmark::DoNotOptimize(templates::MarkdownToHtml(markdown));
}
BENCHMARK(BM_MarkdownToHtml);

void BM_EventEncode(benchmark::State& state) {
  v1::internal::EventEnvelope event;
  event.set_workflow("new-comment");
  event.set_actor("actor-1");
  event.set_data_json(R"({"post_id": "p1", "post_title": "Launch plan", "comment": "Looks good to me"})");
  event.set_accepted_at_us(1700000000000000);
  for (int i = 0; i < state.range(0); ++i) {
    auto* target = event.add_targets();
    target->set_recipient(absl::StrCat("user-", i));
    target->set_run_id("0123456789abcdef0123456789abcdef");
  }
  for (auto _ : state) {
    std::string blob = event.SerializeAsString();
    v1::internal::EventEnvelope decoded;
    benchmark::DoNotOptimize(decoded.ParseFromString(blob));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_EventEncode)->Arg(1)->Arg(100);

void BM_PlanTrigger(benchmark::State& state) {
  auto registry = workflow::Registry::FromDocuments({R"(
key: bench
steps:
  - {type: channel, channel_type: in_app_feed, template: {markdown: "x"}}
)"},
                                                     "bench.yaml");
  v1::TriggerRequest request;
  request.set_workflow("bench");
  request.set_actor("actor-1");
  request.set_data_json(R"({"post_id": "p1", "post_title": "Launch plan"})");
  for (int i = 0; i < state.range(0); ++i) request.add_recipients()->set_id(absl::StrCat("user-", i));
  api::TriggerLimits limits;
  for (auto _ : state) {
    auto planned = api::PlanTrigger(request, **registry, limits, 4, 1700000000000000);
    benchmark::DoNotOptimize(planned);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_PlanTrigger)->Arg(1)->Arg(100);

}  // namespace
}  // namespace herald

BENCHMARK_MAIN();
