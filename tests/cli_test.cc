// heraldctl against a running Herald: human and --json output, exit codes
// and error text for bad input and for an unreachable server.
#include "absl/strings/str_cat.h"
#include "auth/api_keys.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/herald_harness.h"
#include "tests/support/herald_process.h"
#include "tests/support/redis_fixture.h"

namespace herald {
namespace {

using Result = testing::CommandResult;

// `environment`: arguments of env(1) before heraldctl, e.g. "-u HERALD_API_KEY".
Result RunCli(const std::string& args, const std::string& environment = "") {
  return testing::RunHeraldctl(args, environment);
}

class CliTest : public testing::RedisTest {};

TEST_F(CliTest, TriggerReadAndMarkTheFeed) {
  testing::HarnessOptions options;
  options.workflow_files["welcome.yaml"] = R"(
key: welcome
steps:
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "Welcome to {{ data.workspace }}, {{ recipient.name }}!"}}
)";
  testing::HeraldHarness harness(endpoint(), options);
  ASSERT_TRUE(harness.ok());
  const std::string addr = absl::StrCat("--addr=127.0.0.1:", harness.grpc_port());

  Result identify = RunCli(addr + " identify rita --name=Rita --email=rita@example.com");
  ASSERT_EQ(identify.exit_code, 0) << identify.output;
  EXPECT_NE(identify.output.find("rita  Rita  <rita@example.com>"), std::string::npos) << identify.output;

  Result trigger = RunCli(addr + " --json trigger welcome --to=rita --data='{\"workspace\": \"Acme\"}'");
  ASSERT_EQ(trigger.exit_code, 0) << trigger.output;
  auto runs = nlohmann::json::parse(trigger.output, nullptr, false);
  ASSERT_FALSE(runs.is_discarded()) << trigger.output;
  EXPECT_EQ(runs["runs"][0]["recipient"], "rita");
  ASSERT_TRUE(harness.WaitForIdle());

  Result feed = RunCli(addr + " feed list rita");
  ASSERT_EQ(feed.exit_code, 0) << feed.output;
  EXPECT_NE(feed.output.find("1 items, 1 unread, 1 unseen"), std::string::npos) << feed.output;
  EXPECT_NE(feed.output.find("body: Welcome to Acme, Rita!"), std::string::npos) << feed.output;

  Result mark = RunCli(addr + " feed mark rita read --all");
  ASSERT_EQ(mark.exit_code, 0) << mark.output;
  EXPECT_NE(mark.output.find("changed 1 item(s); now 0 unread"), std::string::npos) << mark.output;

  Result bad = RunCli(addr + " trigger welcome --to=rita --data='[1]'");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("invalid argument: data_json: must be a JSON object"), std::string::npos) << bad.output;

  Result usage = RunCli(addr + " trigger");
  EXPECT_EQ(usage.exit_code, 2);

  Result lint = RunCli(absl::StrCat("workflows lint ", harness.workflows_dir(), "/welcome.yaml"));
  EXPECT_EQ(lint.exit_code, 0) << lint.output;

  Result down = RunCli("--addr=127.0.0.1:1 --timeout_ms=500 user rita");
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_NE(down.output.find("is Herald running at 127.0.0.1:1?"), std::string::npos) << down.output;
}

TEST_F(CliTest, ObjectsFanOutsTenantsAndUserLifecycle) {
  testing::HarnessOptions options;
  options.workflow_files["news.yaml"] = R"yaml(
key: news
steps:
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "{{ data.text }} ({{ tenant.name }})"}}
)yaml";
  testing::HeraldHarness harness(endpoint(), options);
  ASSERT_TRUE(harness.ok());
  const std::string addr = absl::StrCat("--addr=127.0.0.1:", harness.grpc_port());
  for (const char* user : {"rita", "ana", "old"}) ASSERT_EQ(RunCli(addr + " identify " + user).exit_code, 0);

  Result object = RunCli(addr + " object identify projects/p1 --name=Launch");
  ASSERT_EQ(object.exit_code, 0) << object.output;
  Result subscribe = RunCli(addr + " object subscribe projects/p1 --to=rita,ana,old");
  EXPECT_NE(subscribe.output.find("subscribed 3; 3 subscriber(s)"), std::string::npos) << subscribe.output;
  Result tenant = RunCli(addr + " tenant identify acme --name=Acme --settings='{\"branding\": {\"primary_color\": \"#FF5500\"}}'");
  ASSERT_EQ(tenant.exit_code, 0) << tenant.output;
  Result bad_tenant = RunCli(addr + " tenant identify acme --settings='{\"branding\": {\"logo_url\": \"x\"}}'");
  EXPECT_EQ(bad_tenant.exit_code, 1);
  EXPECT_NE(bad_tenant.output.find("settings_json.branding.logo_url"), std::string::npos) << bad_tenant.output;

  Result trigger = RunCli(addr + " --json trigger news --objects=projects/p1 --tenant=acme --data='{\"text\": \"Shipped\"}'");
  ASSERT_EQ(trigger.exit_code, 0) << trigger.output;
  auto started = nlohmann::json::parse(trigger.output, nullptr, false);
  ASSERT_FALSE(started.is_discarded()) << trigger.output;
  std::string fanout_id = started["fanouts"][0]["fanout_id"];
  ASSERT_TRUE(harness.WaitForIdle());
  Result progress = RunCli(addr + " fanout " + fanout_id);
  EXPECT_NE(progress.output.find("done: 3 subscriber(s) of projects/p1 in 1 page(s), workflow news"),
            std::string::npos)
      << progress.output;
  Result feed = RunCli(addr + " feed list ana --tenant=acme");
  EXPECT_NE(feed.output.find("body: Shipped (Acme)"), std::string::npos) << feed.output;

  Result merge = RunCli(addr + " user merge rita old");
  EXPECT_EQ(merge.exit_code, 0) << merge.output;
  EXPECT_NE(RunCli(addr + " feed list rita").output.find("2 items"), std::string::npos);
  Result remove = RunCli(addr + " user delete ana");
  EXPECT_EQ(remove.exit_code, 0) << remove.output;
  Result subscribers = RunCli(addr + " object subscribers projects/p1");
  EXPECT_EQ(subscribers.output, "rita\n1 subscriber(s)\n") << subscribers.output;
  Result ghost = RunCli(addr + " user merge rita ghost");
  EXPECT_EQ(ghost.exit_code, 1);
  EXPECT_NE(ghost.output.find("not found: from_user_id"), std::string::npos) << ghost.output;
}

// Against a Herald that asks for API keys: the key comes from
// HERALD_API_KEY (or --api_key) and goes with every call; without it the
// error says what to set; a wrong key is never printed back.
TEST_F(CliTest, SendsTheApiKeyFromTheEnvironment) {
  const std::string key = "hrld_cli-test-key";
  testing::HarnessOptions options;
  options.api_keys = auth::Sha256Hex(key);
  testing::HeraldHarness harness(endpoint(), options);
  ASSERT_TRUE(harness.ok());
  const std::string addr = absl::StrCat("--addr=127.0.0.1:", harness.grpc_port());

  Result keyed = RunCli(addr + " identify rita --name=Rita", "HERALD_API_KEY=" + key);
  ASSERT_EQ(keyed.exit_code, 0) << keyed.output;
  Result flag = RunCli(addr + " --api_key=" + key + " user rita", "-u HERALD_API_KEY");
  EXPECT_EQ(flag.exit_code, 0) << flag.output;
  EXPECT_NE(flag.output.find("rita  Rita"), std::string::npos) << flag.output;

  Result keyless = RunCli(addr + " user rita", "-u HERALD_API_KEY");
  EXPECT_EQ(keyless.exit_code, 1);
  EXPECT_NE(keyless.output.find("heraldctl: unauthenticated: "), std::string::npos) << keyless.output;
  EXPECT_NE(keyless.output.find("(set HERALD_API_KEY)"), std::string::npos) << keyless.output;

  Result wrong = RunCli(addr + " user rita", "HERALD_API_KEY=hrld_not-this-one");
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.output.find("unauthenticated"), std::string::npos) << wrong.output;
  EXPECT_EQ(wrong.output.find("hrld_not-this-one"), std::string::npos) << wrong.output;
}

}  // namespace
}  // namespace herald
