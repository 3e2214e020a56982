// Crash safety: a worker process (batcher + fan-out) is killed with SIGKILL
// in the middle of a load; a fresh worker reclaims what the dead one held
// (XAUTOCLAIM) and every expected feed item exists exactly once.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/keys.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/herald_harness.h"
#include "tests/support/redis_fixture.h"

namespace herald {
namespace {

constexpr int kTriggers = 6000;
constexpr int kRecipients = 20;

pid_t SpawnWorker(const std::string& redis, const std::string& workflows, const std::string& name) {
  const char* binary_dir = std::getenv("HERALD_BINARY_DIR");
  std::string binary = absl::StrCat(binary_dir != nullptr ? binary_dir : ".", "/services/herald/herald");
  std::vector<std::string> args = {binary,
                                   "batcher,fanout",
                                   "--redis=" + redis,
                                   "--workflows=" + workflows,
                                   "--metrics_address=",
                                   "--consumer=" + name,
                                   "--reclaim_idle_ms=300"};
  pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

int64_t CountMessages(redis::RedisClient& client) {
  int64_t count = 0;
  std::string cursor = "0";
  do {
    auto reply = client.Execute({"SCAN", cursor, "MATCH", "herald:*:msg:*", "COUNT", "1000"});
    if (!reply.ok()) return -1;
    cursor = reply->elements[0].str;
    count += static_cast<int64_t>(reply->elements[1].elements.size());
  } while (cursor != "0");
  return count;
}

class CrashTest : public testing::RedisTest {};

TEST_F(CrashTest, KilledWorkerLosesAndDoublesNothing) {
  testing::HarnessOptions options;
  options.roles = "api";
  options.workflow_files["direct.yaml"] = R"(
key: direct
steps:
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "{{ data.i }}"}}
)";
  testing::HeraldHarness api(endpoint(), options);
  ASSERT_TRUE(api.ok());
  for (int r = 0; r < kRecipients; ++r) ASSERT_TRUE(api.Identify(absl::StrCat("u", r), "U").ok());

  pid_t victim = SpawnWorker(endpoint().ToString(), api.workflows_dir(), "victim");
  ASSERT_GT(victim, 0);
  std::thread load([&] {
    for (int start = 0; start < kTriggers; start += 200) {
      v1::TriggerBatchRequest batch;
      for (int i = start; i < start + 200; ++i) {
        v1::TriggerRequest* request = batch.add_triggers();
        request->set_workflow("direct");
        request->add_recipients()->set_id(absl::StrCat("u", i % kRecipients));
        request->set_data_json(absl::StrCat(R"({"i": )", i, "}"));
      }
      v1::TriggerBatchResponse response;
      EXPECT_TRUE(api.stub().TriggerBatch(testing::HeraldHarness::Context().get(), batch, &response).ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // spread the load over time
    }
  });
  // Kill the worker once it has written part of the load, not all of it.
  auto client = Connect();
  absl::Time give_up = absl::Now() + absl::Seconds(60);
  int64_t at_kill = 0;
  while (absl::Now() < give_up) {
    at_kill = CountMessages(*client);
    if (at_kill >= kTriggers / 5) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  int status = 0;
  waitpid(victim, &status, 0);
  EXPECT_LT(at_kill, kTriggers) << "the worker finished before it could be killed";
  load.join();
  // What the dead worker held: read but never acknowledged.
  int64_t pending = 0;
  for (int p = 0; p < 4; ++p) {
    for (const auto& [stream, group] : {std::pair<std::string, std::string>{Keys(p).Events(), "batcher"},
                                        {Keys(p).Batches(), "fanout"}}) {
      auto reply = client->Execute({"XPENDING", stream, group});
      if (reply.ok() && !reply->elements.empty()) pending += reply->elements[0].integer;
    }
  }
  std::cout << "killed at " << at_kill << " messages with " << pending << " entries pending" << std::endl;

  pid_t survivor = SpawnWorker(endpoint().ToString(), api.workflows_dir(), "survivor");
  ASSERT_GT(survivor, 0);
  bool drained = api.WaitForIdle(absl::Seconds(120));
  kill(survivor, SIGTERM);
  waitpid(survivor, &status, 0);
  ASSERT_TRUE(drained) << "entries left pending after the survivor ran";

  std::multiset<int> seen;
  for (int r = 0; r < kRecipients; ++r) {
    for (const auto& item : api.AllFeedItems(absl::StrCat("u", r))) {
      seen.insert(nlohmann::json::parse(item.data_json())["i"].get<int>());
    }
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kTriggers)) << "lost or doubled (killed at " << at_kill << ")";
  std::set<int> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), static_cast<size_t>(kTriggers));
  EXPECT_EQ(CountMessages(*client), kTriggers);
}

}  // namespace
}  // namespace herald
