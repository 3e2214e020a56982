// bench/loadgen's reading of the feeds and of Redis's own accounting, against
// a real redis-server: what it reports about a run rests on these.
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "bench/loadgen_feeds.h"
#include "bench/loadgen_load.h"
#include "bench/loadgen_redis_cost.h"
#include "core/ids.h"
#include "core/keys.h"
#include "feed/feed_store.h"
#include "tests/support/redis_fixture.h"

namespace herald::bench {
namespace {

constexpr int kPartitions = 4;

LoadSpec Pool(int users) {
  LoadSpec load;
  load.name = "quiet";
  load.user_prefix = "bench-test-";
  load.pool = users;
  return load;
}

// One item for `user`: `activities` triggers, the newest accepted at
// `accepted_us`, inserted 3 ms later.
feed::NewItem Item(const std::string& user, const std::string& id, int activities, int64_t accepted_us) {
  feed::NewItem item;
  item.item.set_id(id);
  item.item.set_workflow("bench");
  item.item.set_total_activities(activities);
  item.recipient = user;
  item.channel = "in_app_feed";
  item.accepted_at_us = accepted_us;
  item.inserted_at_us = accepted_us + 3000;
  item.workflow_run_id = "run-" + id;
  return item;
}

class LoadgenTest : public testing::RedisTest {
 protected:
  void Insert(const std::vector<feed::NewItem>& items) {
    const Keys keys(PartitionOf(items.front().recipient, kPartitions));
    ASSERT_TRUE(client_->Execute(feed::InsertManyCommand(keys, items)).ok());
  }

  std::unique_ptr<redis::RedisClient> client_ = Connect();
};

TEST_F(LoadgenTest, ReadsWhatLandedSinceTheCountsTakenBefore) {
  const LoadSpec load = Pool(3);
  FeedReader reader(*client_, kPartitions);
  Insert({Item(load.UserId(0), "old", 1, 1000)});  // before the run
  auto before = reader.ItemsPerUser(load);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(*before, (std::vector<int64_t>{1, 0, 0}));

  const int64_t since_us = 2'000'000;
  Insert({Item(load.UserId(0), "a", 1, since_us + 10)});
  Insert({Item(load.UserId(0), "b", 4, since_us + 20)});  // a digest of 4
  // Accepted before the run (a late item of an earlier one): counted, no latency.
  Insert({Item(load.UserId(2), "c", 1, since_us - 1)});

  auto polled = reader.Poll({&load});
  ASSERT_TRUE(polled.ok()) << polled.status();
  EXPECT_EQ(*polled, 4);
  auto landed = reader.ReadLanded(load, *before, since_us);
  ASSERT_TRUE(landed.ok()) << landed.status();
  EXPECT_EQ(landed->items, (std::vector<int64_t>{2, 0, 1}));
  EXPECT_EQ(landed->activities, (std::vector<int64_t>{5, 0, 1}));
  EXPECT_EQ(landed->items_total, 3);
  EXPECT_EQ(landed->activities_total, 6);
  EXPECT_EQ(landed->latencies_ms, (std::vector<double>{3.0, 3.0}));
  EXPECT_EQ(landed->last_insert_us, since_us + 20 + 3000);
}

TEST_F(LoadgenTest, EveryScriptItSendsIsPlainEval) {
  const LoadSpec load = Pool(50);
  FeedReader reader(*client_, kPartitions);
  auto before = ReadRedisInfo(*client_);
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_TRUE(reader.Poll({&load}).ok());
  ASSERT_TRUE(reader.ItemsPerUser(load).ok());
  auto after = ReadRedisInfo(*client_);
  ASSERT_TRUE(after.ok()) << after.status();
  CommandStats delta = Delta(after->commands, before->commands);
  EXPECT_EQ(delta.count("evalsha"), 0u);
  EXPECT_GE(delta["eval"].calls, 1 + 50);  // a poll call per partition used, a count per user
}

// The footprint taken out once per poll is exactly what a poll adds: after
// any number of polls, nothing of theirs is left outside `eval`.
TEST_F(LoadgenTest, PollFootprintAccountsForEveryCommandAPollAdds) {
  const LoadSpec load = Pool(200);
  FeedReader reader(*client_, kPartitions);
  Insert({Item(load.UserId(7), "x", 1, 1000)});
  auto footprint = MeasureFootprint(*client_, reader.PollCommands({&load}), 3);
  ASSERT_TRUE(footprint.ok()) << footprint.status();
  EXPECT_FALSE(footprint->empty());
  EXPECT_EQ(footprint->count("eval"), 0u);
  EXPECT_EQ(footprint->count("info"), 0u);

  auto before = ReadRedisInfo(*client_);
  ASSERT_TRUE(before.ok());
  constexpr int kPolls = 5;
  for (int i = 0; i < kPolls; ++i) ASSERT_TRUE(reader.Poll({&load}).ok());
  auto after = ReadRedisInfo(*client_);
  ASSERT_TRUE(after.ok());
  Exclusions excluded;
  excluded.Add(*footprint, kPolls);
  for (const auto& [name, stat] : Delta(after->commands, before->commands)) {
    if (IsLoadgenCommand(name)) continue;
    ASSERT_EQ(excluded.commands().count(name), 1u) << name << " is not in the footprint";
    EXPECT_EQ(stat.calls, excluded.commands().at(name).calls) << name;
  }
}

TEST(CostReportTest, TakesLoadgenOutAndRanksTheRestPerNotification) {
  RedisInfo before, after;
  before.cpu_us = 1'000;
  before.used_memory = 10'000;
  before.commands = {{"evalsha", {10, 100}}, {"zcard", {5, 5}}};
  after.cpu_us = 1'000 + 5'000;
  after.used_memory = 10'000 + 300'000;
  after.commands = {{"evalsha", {110, 2'100}},  // Herald: 100 calls, 2,000 µs
                    {"zcard", {405, 405}},      // 200 Herald's, 200 loadgen's polls
                    {"xadd", {300, 600}},      {"hset", {100, 50}}, {"eval", {4, 1'000}},  // loadgen's
                    {"info", {1, 20}}};
  Exclusions excluded;
  excluded.Add({{"zcard", {100, 100}}}, 2);
  nlohmann::json report = CostReport(before, after, excluded, 1000, 0, 3);
  EXPECT_EQ(report["redis_cpu_us_per_notification"], 3.98);  // (5,000 - 1,020) / 1,000
  EXPECT_EQ(report["redis_bytes_per_notification"], 300);
  EXPECT_EQ(report["redis_used_memory_after"], 310'000);
  EXPECT_EQ(report["redis_loadgen_us_excluded"], 1'020);
  EXPECT_FALSE(report.contains("redis_cpu_us_per_activity"));
  const nlohmann::json& top = report["redis_top_commands"];
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0]["command"], "evalsha");
  EXPECT_EQ(top[0]["calls_per_notification"], 0.1);
  EXPECT_EQ(top[0]["us_per_notification"], 2.0);
  EXPECT_EQ(top[1]["command"], "xadd");
  EXPECT_EQ(top[2]["command"], "zcard");
  EXPECT_EQ(top[2]["calls_per_notification"], 0.2);

  nlohmann::json digests = CostReport(before, after, excluded, 1000, 2000, 3);
  EXPECT_EQ(digests["redis_cpu_us_per_activity"], 1.99);  // 3,980 µs over 2,000 activities
  EXPECT_EQ(digests["redis_bytes_per_activity"], 150);
}

TEST(LoadSpecTest, TriggersWalkThePoolAndPoolsKeepFeedsUnderTheCap) {
  LoadSpec load = Pool(1000);
  load.per_trigger = 100;
  EXPECT_EQ(load.FirstRecipient(0), 0);
  EXPECT_EQ(load.FirstRecipient(9), 900);
  EXPECT_EQ(load.FirstRecipient(10), 0);
  EXPECT_EQ(PoolFor(1, 20'000), 1000);
  EXPECT_EQ(PoolFor(200, 10), 2000);
  EXPECT_EQ(PoolFor(100, 1'000'001), 2001);  // at most 500 items per user
}

}  // namespace
}  // namespace herald::bench
