// heraldctl against a running Herald: human and --json output, exit codes
// and error text for bad input and for an unreachable server.
#include <sys/wait.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/herald_harness.h"
#include "tests/support/redis_fixture.h"

namespace herald {
namespace {

struct Result {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

Result RunCli(const std::string& args) {
  const char* dir = std::getenv("HERALD_BINARY_DIR");
  std::string command = absl::StrCat(dir != nullptr ? dir : ".", "/cli/heraldctl ", args, " 2>&1");
  Result result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t read;
  while ((read = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, read);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
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

}  // namespace
}  // namespace herald
