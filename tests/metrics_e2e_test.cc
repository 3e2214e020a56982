// /metrics checked the way operators use it, against real herald processes:
// one per role (api, batcher, fanout, dispatcher with a delivery config,
// delivery) sharing a Redis, and `herald all` on its own. After a small
// load (batches, in-app, webhooks through the delivery service, a dead
// letter), every role's scrape passes `promtool check metrics`; every
// metric name the Grafana dashboard and the Prometheus rules use is in
// those scrapes; and a real Prometheus server on loopback scrapes the
// roles, evaluates deploy/prometheus/herald-rules.yml and answers queries.
// Needs the Debian package `prometheus` (promtool and the server).
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "herald/v1/herald.grpc.pb.h"
#include "metrics/build_info.h"
#include "nlohmann/json.hpp"
#include "redis/embedded_server.h"
#include "services/delivery/providers/testing/test_servers.h"
#include "tests/support/eventually.h"
#include "tests/support/herald_process.h"
#include "tests/support/loopback.h"
#include "tests/support/redis_fixture.h"
#include "tests/support/scrape.h"
#include "yaml-cpp/yaml.h"

namespace herald {
namespace {

using nlohmann::json;
using testing::Eventually;
using testing::FreeLoopbackPort;
using testing::HttpGet;
using testing::ParseScrape;
using testing::Sample;
using testing::SumOf;

// The first of `program`'s locations that exists on PATH, or "".
std::string FindOnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path != nullptr ? path : "/usr/bin", ':')) {
    std::string candidate = absl::StrCat(dir, "/", program);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// How the role processes and Prometheus are stopped: SIGTERM, then SIGKILL
// after 10 s.
testing::HeraldProcessOptions StopGracefully(const std::string& program = "") {
  testing::HeraldProcessOptions options;
  options.program = program;
  options.stop_grace = absl::Seconds(10);
  return options;
}

std::string UrlEncode(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      absl::StrAppend(&out, "%", absl::Hex(c, absl::kZeroPad2));
    }
  }
  return out;
}

// The metric names an expression reads: identifiers that are not
// functions, aggregations, keywords, label names (in {...} or grouping
// clauses), strings, numbers or durations.
std::set<std::string> MetricNames(const std::string& expr) {
  std::string text = expr;
  // Strings first (they may hold any character), then label matchers,
  // ranges, and grouping clauses.
  text = std::regex_replace(text, std::regex(R"re("(\\.|[^"\\])*"|'(\\.|[^'\\])*'|`[^`]*`)re"), " ");
  text = std::regex_replace(text, std::regex(R"(\{[^}]*\})"), " ");
  text = std::regex_replace(text, std::regex(R"(\[[^\]]*\])"), " ");
  text = std::regex_replace(
      text, std::regex(R"(\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\))"), " ");
  static const std::set<std::string> kKeywords = {"and",   "or",         "unless",      "bool", "offset",
                                                  "by",    "without",    "on",          "ignoring",
                                                  "group_left", "group_right", "inf", "nan", "Inf", "NaN"};
  std::set<std::string> names;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') {
      while (i < text.size() && (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
      continue;
    }
    if (!(std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':')) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '_' ||
                                 text[end] == ':')) {
      ++end;
    }
    std::string word = text.substr(i, end - i);
    size_t next = end;
    while (next < text.size() && std::isspace(static_cast<unsigned char>(text[next]))) ++next;
    const bool call = next < text.size() && text[next] == '(';
    if (!call && kKeywords.count(word) == 0) names.insert(word);
    i = end;
  }
  return names;
}

// Every expression of the Grafana dashboard (panels, nested rows).
void DashboardExpressions(const json& panels, std::vector<std::string>* out) {
  for (const json& panel : panels) {
    if (panel.contains("targets")) {
      for (const json& target : panel["targets"]) {
        if (target.contains("expr")) out->push_back(target["expr"].get<std::string>());
      }
    }
    if (panel.contains("panels")) DashboardExpressions(panel["panels"], out);
  }
}

constexpr int kPartitions = 2;

const char* kWorkflows[][2] = {
    {"digest.yaml", R"(
key: digest
steps:
  - {ref: batch, type: batch, window: 300ms}
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "{{ total_activities }} new"}}
)"},
    {"feed.yaml", R"(
key: feed
steps:
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "Hello {{ recipient.name }}"}}
)"},
    {"hook.yaml", R"(
key: hook
steps:
  - {ref: hook, type: channel, channel_type: webhook, channel: hooks, template: {body: '{"n": 1}'}}
)"},
    {"broken.yaml", R"(
key: broken
steps:
  - {ref: hook, type: channel, channel_type: webhook, channel: broken, template: {body: '{"n": 2}'}}
)"},
};

// The herald processes of one Herald (one per role, or `all`), their
// metrics ports, and the load they ran.
class MetricsE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    promtool_ = FindOnPath("promtool");
    prometheus_ = FindOnPath("prometheus");
    ASSERT_FALSE(promtool_.empty()) << "promtool not found: install the Debian package prometheus "
                                       "(scripts/install-deps)";
    dir_ = testing::MakeTempDir("herald-metrics-e2e-");
    ASSERT_FALSE(dir_.empty());
    workflows_ = dir_ + "/workflows";
    for (const auto& [name, text] : kWorkflows) testing::WriteFile(workflows_, name, text);

    redis::EmbeddedServerOptions redis_options;
    redis_options.data_dir = dir_ + "/redis";
    redis_options.append_only = false;
    auto redis = redis::EmbeddedServer::Start(redis_options);
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = redis->release();
    auto http = delivery::testing::ScriptedHttpServer::Start();
    ASSERT_TRUE(http.ok()) << http.status();
    http_ = http->release();

    delivery_port_ = FreeLoopbackPort();
    const std::string config = dir_ + "/delivery.yaml";
    // hooks: through the delivery role; broken: in the dispatcher, to a
    // closed port, one attempt, so it dead-letters at once.
    std::ofstream(config) << absl::StrCat(R"(
channels:
  hooks:
    provider: webhook
    options: {url: ")", http_->Url("/hook"), R"("}
    service: "127.0.0.1:)", delivery_port_, R"("
  broken:
    provider: webhook
    options: {url: "http://127.0.0.1:)", FreeLoopbackPort(), R"(/gone"}
    retry: {max_attempts: 1}
)");
    const std::string redis_url = absl::StrCat("--redis=", redis_->endpoint().ToString());
    const std::vector<std::string> common = {"--workflows=" + workflows_, absl::StrCat("--partitions=", kPartitions),
                                             "--metrics_sample_interval_ms=200", "--data_dir=" + dir_ + "/data",
                                             "--delivery_config=" + config};
    grpc_port_ = FreeLoopbackPort();
    struct RoleArgs {
      std::string role;
      std::vector<std::string> args;
    };
    const std::vector<RoleArgs> roles = {
        {"delivery", {"--channels=hooks", absl::StrCat("--delivery_address=127.0.0.1:", delivery_port_)}},
        {"dispatcher", {redis_url}},
        {"batcher", {redis_url}},
        {"fanout", {redis_url}},
        {"api", {redis_url}},
    };
    for (const RoleArgs& role : roles) {
      const int metrics_port = FreeLoopbackPort();
      std::vector<std::string> args = {role.role, absl::StrCat("--metrics_address=127.0.0.1:", metrics_port),
                                       absl::StrCat("--grpc_address=127.0.0.1:", role.role == "api" ? grpc_port_ : 0),
                                       "--consumer=" + role.role};
      args.insert(args.end(), common.begin(), common.end());
      args.insert(args.end(), role.args.begin(), role.args.end());
      processes_[role.role] = new testing::HeraldProcess(args, StopGracefully());
      metrics_ports_[role.role] = metrics_port;
    }
    for (const auto& [role, port] : metrics_ports_) {
      const int metrics_port = port;
      ASSERT_TRUE(Eventually([&] { return HttpGet(metrics_port, "/metrics").has_value(); }, absl::Seconds(20)))
          << role << " does not serve /metrics:\n"
          << processes_[role]->Log();
    }
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc_port_), grpc::InsecureChannelCredentials());
    ASSERT_TRUE(channel_->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(20)))
        << processes_["api"]->Log();
    ASSERT_NO_FATAL_FAILURE(RunLoad(channel_, /*deliveries=*/true));
  }

  static void TearDownTestSuite() {
    // All asked at once: stopping them takes as long as the slowest, not the sum.
    for (auto& [role, process] : processes_) process->Signal(SIGTERM);
    for (auto& [role, process] : processes_) delete process;
    processes_.clear();
    channel_.reset();
    delete http_;
    delete redis_;
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }

  static std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return context;
  }

  // A few users, and triggers of every workflow: batches, in-app feed
  // items, webhooks (with `deliveries`) delivered and dead-lettered.
  static void RunLoad(const std::shared_ptr<grpc::Channel>& channel, bool deliveries) {
    auto stub = v1::Herald::NewStub(channel);
    std::vector<std::string> users = {"ada", "bob", "cy"};
    for (const std::string& id : users) {
      v1::IdentifyUserRequest request;
      request.mutable_user()->set_id(id);
      request.mutable_user()->set_name(id);
      v1::User user;
      grpc::Status status = stub->IdentifyUser(Context().get(), request, &user);
      ASSERT_TRUE(status.ok()) << status.error_message();
    }
    std::vector<std::string> workflows = {"digest", "digest", "feed"};
    if (deliveries) workflows.insert(workflows.end(), {"hook", "broken"});
    for (const std::string& workflow : workflows) {
      v1::TriggerRequest request;
      request.set_workflow(workflow);
      for (const std::string& id : users) request.add_recipients()->set_id(id);
      request.set_data_json("{}");
      v1::TriggerResponse response;
      grpc::Status status = stub->Trigger(Context().get(), request, &response);
      ASSERT_TRUE(status.ok()) << workflow << ": " << status.error_message();
    }
  }

  // The samples of one scrape (none when the scrape failed: callers poll).
  static std::vector<Sample> Scrape(int port) {
    auto response = HttpGet(port, "/metrics");
    return response && response->status == 200 ? ParseScrape(response->body) : std::vector<Sample>{};
  }

  // Runs `promtool check metrics` on `scrape`; its exit status and output.
  static std::pair<int, std::string> Promtool(const std::string& scrape) {
    const std::string file = testing::WriteFile(dir_, absl::StrCat("scrape-", ++scrapes_, ".txt"), scrape);
    testing::CommandResult result = testing::RunCommand(absl::StrCat(promtool_, " check metrics < ", file));
    return {result.exit_code, result.output};
  }

  static inline std::string promtool_, prometheus_, dir_, workflows_;
  static inline int grpc_port_ = 0, delivery_port_ = 0, scrapes_ = 0;
  static inline redis::EmbeddedServer* redis_ = nullptr;
  static inline delivery::testing::ScriptedHttpServer* http_ = nullptr;
  static inline std::map<std::string, testing::HeraldProcess*> processes_;
  static inline std::map<std::string, int> metrics_ports_;
  static inline std::shared_ptr<grpc::Channel> channel_;
};

TEST(MetricNamesTest, FindsMetricsAndSkipsFunctionsLabelsAndKeywords) {
  EXPECT_EQ(MetricNames(R"(histogram_quantile(0.99, sum by (le, grpc_method) (rate(x_bucket{a="b{c}",d=~"e|f"}[5m]))))"),
            (std::set<std::string>{"x_bucket"}));
  EXPECT_EQ(MetricNames("herald:stream_consumers:max == 0 and on (stream, group) herald:stream_lag:sum > 0"),
            (std::set<std::string>{"herald:stream_consumers:max", "herald:stream_lag:sum"}));
  EXPECT_EQ(MetricNames("sum(rate(a_total[1m] offset 5m)) / sum(b) by (c) + 1e3 * up"),
            (std::set<std::string>{"a_total", "b", "up"}));
}

TEST_F(MetricsE2eTest, EveryRoleServesMetricsThatPassPromtool) {
  // What each role must report once the load ran through it.
  struct Expected {
    std::string role, name;
    std::map<std::string, std::string> labels;
  };
  const std::vector<Expected> expected = {
      {"api", "grpc_server_handled_total", {{"grpc_method", "Trigger"}, {"grpc_code", "OK"}}},
      {"api", "herald_redis_command_seconds_count", {{"client", "pipeline"}}},
      {"batcher", "herald_batch_activities_count", {}},
      {"batcher", "herald_flush_lateness_seconds_count", {}},
      {"batcher", "herald_redis_command_seconds_count", {{"client", "sync"}}},
      {"fanout", "herald_trigger_to_feed_seconds_count", {}},
      {"dispatcher", "herald_deliveries_total", {{"channel", "hooks"}, {"provider", "webhook"}, {"outcome", "delivered"}}},
      {"dispatcher", "herald_dead_letters", {{"channel", "broken"}}},
  };
  // The load takes a moment to go through every stage and sample.
  for (const Expected& want : expected) {
    const int port = metrics_ports_[want.role];
    EXPECT_TRUE(Eventually([&] { return SumOf(Scrape(port), want.name, want.labels) > 0; }, absl::Seconds(30)))
        << want.role << ": no " << want.name << " > 0\n"
        << processes_[want.role]->Log();
  }
  for (const auto& [role, port] : metrics_ports_) {
    auto response = HttpGet(port, "/metrics");
    ASSERT_TRUE(response.has_value()) << role;
    auto [status, output] = Promtool(response->body);
    EXPECT_EQ(status, 0) << role << ": promtool check metrics failed:\n" << output;
    EXPECT_EQ(output, "") << role << ": promtool check metrics has lint warnings:\n" << output;
    const std::vector<Sample> samples = ParseScrape(response->body);
    EXPECT_EQ(SumOf(samples, "herald_build_info",
                    {{"version", std::string(metrics::BuildVersion())},
                     {"revision", std::string(metrics::BuildRevision())}}),
              1)
        << role;
    // Stream gauges come from the worker roles, one series per partition.
    const bool worker = role == "batcher" || role == "fanout" || role == "dispatcher";
    for (int p = 0; p < kPartitions; ++p) {
      const std::map<std::string, std::string> labels = {
          {"stream", "events"}, {"group", "batcher"}, {"partition", std::to_string(p)}};
      EXPECT_EQ(SumOf(samples, "herald_stream_lag", labels) >= 0, worker) << role << " partition " << p;
    }
  }
}

TEST_F(MetricsE2eTest, DashboardAndRulesUseOnlyMetricsThatExist) {
  // Every series name the roles expose (histograms as _bucket/_sum/_count).
  std::set<std::string> exposed;
  for (const auto& [role, port] : metrics_ports_) {
    for (const Sample& sample : Scrape(port)) exposed.insert(sample.name);
  }
  ASSERT_GT(exposed.size(), 50u);
  // Names Prometheus makes itself, and the rules file's recording rules.
  std::set<std::string> known = {"up"};
  std::vector<std::pair<std::string, std::string>> expressions;  // where, expression
  YAML::Node rules = YAML::LoadFile(testing::SourcePath("deploy/prometheus/herald-rules.yml"));
  for (const YAML::Node& group : rules["groups"]) {
    for (const YAML::Node& rule : group["rules"]) {
      if (rule["record"]) known.insert(rule["record"].as<std::string>());
      const std::string name = rule["record"] ? rule["record"].as<std::string>() : rule["alert"].as<std::string>();
      expressions.emplace_back("herald-rules.yml " + name, rule["expr"].as<std::string>());
    }
  }
  std::ifstream dashboard_file(testing::SourcePath("deploy/grafana/herald-dashboard.json"));
  json dashboard = json::parse(dashboard_file);
  std::vector<std::string> panel_expressions;
  DashboardExpressions(dashboard["panels"], &panel_expressions);
  ASSERT_GT(panel_expressions.size(), 10u);
  for (const std::string& expr : panel_expressions) expressions.emplace_back("herald-dashboard.json", expr);

  std::set<std::string> used;
  for (const auto& [where, expr] : expressions) {
    const std::set<std::string> names = MetricNames(expr);
    EXPECT_FALSE(names.empty()) << where << ": no metric in " << expr;
    for (const std::string& name : names) {
      used.insert(name);
      EXPECT_TRUE(exposed.count(name) != 0 || known.count(name) != 0)
          << where << " uses " << name << ", which no Herald role exposes:\n  " << expr;
    }
  }
  // The new pipeline metrics are on the dashboard or in the rules.
  for (const char* name : {"herald_stream_lag", "herald_stream_pending", "herald_stream_length",
                           "herald_stream_consumers", "herald_open_batches", "herald_batch_activities_bucket",
                           "herald_flush_lateness_seconds_bucket", "herald_redis_command_seconds_bucket",
                           "herald_redis_errors_total", "herald_deliveries_total", "herald_dead_letters",
                           "herald_build_info", "herald_lane_runs_total", "herald_bulk_lane_tenants"}) {
    EXPECT_EQ(used.count(name), 1u) << name << " is on no panel and in no rule";
  }
}

TEST_F(MetricsE2eTest, PrometheusScrapesEveryRoleAndAnswersQueries) {
  ASSERT_FALSE(prometheus_.empty()) << "prometheus not found: install the Debian package prometheus";
  const std::string config = dir_ + "/prometheus.yml";
  {
    std::ofstream out(config);
    out << "global: {scrape_interval: 300ms, scrape_timeout: 250ms, evaluation_interval: 300ms}\n"
        << "rule_files: [\"" << testing::SourcePath("deploy/prometheus/herald-rules.yml") << "\"]\n"
        << "scrape_configs:\n";
    for (const auto& [role, port] : metrics_ports_) {
      out << "  - job_name: herald-" << role << "\n"
          << "    static_configs: [{targets: [\"127.0.0.1:" << port << "\"], labels: {role: " << role << "}}]\n";
    }
  }
  const int port = FreeLoopbackPort();
  testing::HeraldProcess prometheus({"--config.file=" + config, "--storage.tsdb.path=" + dir_ + "/prometheus-data",
                                     absl::StrCat("--web.listen-address=127.0.0.1:", port), "--log.level=warn"},
                                    StopGracefully(prometheus_));
  ASSERT_TRUE(Eventually(
      [&] {
        auto ready = HttpGet(port, "/-/ready");
        return ready && ready->status == 200;
      },
      absl::Seconds(30)))
      << prometheus.Log();

  auto query = [&](const std::string& promql) -> json {
    auto response = HttpGet(port, "/api/v1/query?query=" + UrlEncode(promql));
    if (!response || response->status != 200) return json::array();
    json body = json::parse(response->body, nullptr, false);
    if (body.is_discarded() || body.value("status", "") != "success") return json::array();
    return body["data"]["result"];
  };
  auto labels_of = [](const json& result, const std::string& label) {
    std::set<std::string> values;
    for (const json& series : result) values.insert(series["metric"].value(label, ""));
    return values;
  };
  auto value_of = [](const json& result) {
    return result.size() == 1 ? std::stod(result[0]["value"][1].get<std::string>()) : -1.0;
  };

  const std::set<std::string> jobs = {"herald-api", "herald-batcher", "herald-dispatcher", "herald-delivery",
                                      "herald-fanout"};
  EXPECT_TRUE(Eventually(
      [&] { return labels_of(query("herald_build_info == 1"), "job") == jobs; }, absl::Seconds(20)))
      << query("herald_build_info").dump();
  EXPECT_EQ(labels_of(query("herald_build_info"), "version"),
            (std::set<std::string>{std::string(metrics::BuildVersion())}));
  EXPECT_TRUE(Eventually([&] { return labels_of(query("up == 1"), "job") == jobs; }, absl::Seconds(10)));
  // One lag gauge per partition (each worker process reports them all).
  EXPECT_TRUE(Eventually(
      [&] {
        return labels_of(query(R"(herald_stream_lag{stream="events",group="batcher",job="herald-batcher"})"),
                         "partition") == std::set<std::string>{"0", "1"};
      },
      absl::Seconds(10)))
      << query("herald_stream_lag").dump();
  EXPECT_TRUE(Eventually([&] { return value_of(query("sum(herald_trigger_to_feed_seconds_count)")) > 0; },
                         absl::Seconds(10)));
  // The rules file is evaluated: a recording rule over the per-partition gauges.
  EXPECT_TRUE(Eventually(
      [&] { return value_of(query(R"(herald:stream_lag:sum{stream="events",group="batcher"})")) >= 0; },
      absl::Seconds(10)))
      << query("herald:stream_lag:sum").dump();
  EXPECT_TRUE(Eventually(
      [&] {
        return value_of(query(R"(sum(herald_deliveries_total{provider="webhook",outcome="delivered"}))")) > 0;
      },
      absl::Seconds(10)));
}

TEST_F(MetricsE2eTest, AllRolesInOneProcessPassPromtool) {
  // Its own embedded Redis (no --redis), in-app load only.
  const int metrics_port = FreeLoopbackPort();
  const int grpc_port = FreeLoopbackPort();
  testing::HeraldProcess all({"all", "--workflows=" + workflows_, "--data_dir=" + dir_ + "/all",
                              absl::StrCat("--partitions=", kPartitions), absl::StrCat("--grpc_address=127.0.0.1:", grpc_port),
                              absl::StrCat("--metrics_address=127.0.0.1:", metrics_port),
                              "--metrics_sample_interval_ms=200"},
                             StopGracefully());
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc_port), grpc::InsecureChannelCredentials());
  ASSERT_TRUE(channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(20))) << all.Log();
  ASSERT_NO_FATAL_FAILURE(RunLoad(channel, /*deliveries=*/false));
  EXPECT_TRUE(Eventually(
      [&] {
        const std::vector<Sample> samples = Scrape(metrics_port);
        return SumOf(samples, "herald_flush_lateness_seconds_count") > 0 &&
               SumOf(samples, "herald_trigger_to_feed_seconds_count") > 0 &&
               SumOf(samples, "herald_stream_lag", {{"stream", "batches"}, {"partition", "1"}}) >= 0;
      },
      absl::Seconds(30)))
      << all.Log();
  auto response = HttpGet(metrics_port, "/metrics");
  ASSERT_TRUE(response.has_value());
  auto [status, output] = Promtool(response->body);
  EXPECT_EQ(status, 0) << output;
  EXPECT_EQ(output, "") << "promtool check metrics has lint warnings:\n" << output;
  EXPECT_EQ(SumOf(ParseScrape(response->body), "herald_dead_letters", {{"channel", "unknown"}}), 0)
      << "`all` runs the dispatcher: dead letters are sampled";
}

}  // namespace
}  // namespace herald
