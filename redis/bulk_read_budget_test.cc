#include "redis/bulk_read_budget.h"

#include "gtest/gtest.h"

namespace herald::redis {
namespace {

constexpr int64_t kMs = 1000;

BulkReadBudgetOptions Options() {
  BulkReadBudgetOptions options;
  options.read_count = 256;
  options.busy_cycle_us = 2 * kMs;
  options.idle_cycle_us = 50 * kMs;
  options.idle_after_us = 500 * kMs;
  options.busy_share = 1.0;  // no pauses, but in the test that is about them
  return options;
}

// Feeds reads whose processing costs `entry_us` per bulk entry (of
// `streams` streams) until the count settles; returns it.
int Settle(BulkReadBudget& budget, int64_t entry_us, int streams, size_t normal, int64_t* now_us) {
  for (int i = 0; i < 100; ++i) {
    const size_t bulk = static_cast<size_t>(budget.Next(*now_us)) * streams;
    budget.Observe(normal, bulk, static_cast<int64_t>(bulk) * entry_us, *now_us);
    *now_us += kMs;
  }
  return budget.Next(*now_us);
}

TEST(BulkReadBudgetTest, WhileTheNormalLaneIsInUseACycleStaysNearTheShortTarget) {
  BulkReadBudget budget(Options());
  int64_t now = 0;
  // 4 streams, 50 us per bulk entry: 2 ms is 40 entries, 10 per stream.
  const int count = Settle(budget, 50, 4, /*normal=*/1, &now);
  EXPECT_GE(count * 4 * 50, 1 * kMs) << count;
  EXPECT_LE(count * 4 * 50, 2 * kMs + 4 * 50 * 2) << count;
}

TEST(BulkReadBudgetTest, AloneInTheBulkLaneReadsGrowToTheLongTargetOrTheReadCount) {
  BulkReadBudget budget(Options());
  int64_t now = 0;
  // 50 us per entry: 50 ms is 1000 entries, 250 per stream.
  const int count = Settle(budget, 50, 4, /*normal=*/0, &now);
  EXPECT_GE(count * 4 * 50, 25 * kMs) << count;
  EXPECT_LE(count * 4 * 50, 50 * kMs + 4 * 50 * 64) << count;
  // Cheap entries: capped by the read count.
  BulkReadBudget cheap(Options());
  EXPECT_EQ(Settle(cheap, 1, 4, 0, &now), 256);
}

TEST(BulkReadBudgetTest, ANormalEntryAfterIdleCutsTheCountAtOnce) {
  BulkReadBudget budget(Options());
  int64_t now = 0;
  const int idle = Settle(budget, 50, 4, 0, &now);
  ASSERT_GT(idle, 100);
  budget.Observe(/*normal=*/1, /*bulk=*/0, 0, now);
  EXPECT_LE(budget.Next(now), idle * 2 / 50 + 1) << "scaled by 2 ms / 50 ms";
  EXPECT_GE(budget.Next(now), 1);
  // Idle again for longer than idle_after: the count grows back.
  now += 600 * kMs;
  EXPECT_GT(Settle(budget, 50, 4, 0, &now), 100);
}

TEST(BulkReadBudgetTest, EntriesCostlierThanTheTargetGoDownToOne) {
  BulkReadBudget budget(Options());
  int64_t now = 0;
  // One entry of a 1,000-recipient trigger: 30 ms. Never below one.
  EXPECT_EQ(Settle(budget, 30 * kMs, 4, 1, &now), 1);
}

TEST(BulkReadBudgetTest, ReadsWithoutBulkEntriesTeachNothingAboutTheirCost) {
  BulkReadBudget budget(Options());
  budget.Observe(1, 0, 0, 0);  // busy from here on
  const int before = budget.Next(0);
  // Slow reads of normal entries alone: the bulk count stays.
  for (int i = 1; i <= 10; ++i) budget.Observe(5, 0, 100 * kMs, i * kMs);
  EXPECT_EQ(budget.Next(10 * kMs), before);
}

TEST(BulkReadBudgetTest, WhileTheNormalLaneIsInUseBulkCyclesTakeTheirShareOfTime) {
  BulkReadBudgetOptions options = Options();
  options.busy_share = 0.25;
  BulkReadBudget budget(options);
  budget.Observe(1, 0, 0, 0);
  // A bulk cycle of 2 ms ending at 10 ms: the next 6 ms read the normal lane alone.
  budget.Observe(0, 8, 2 * kMs, 10 * kMs);
  EXPECT_EQ(budget.Next(10 * kMs), 0);
  EXPECT_EQ(budget.PauseLeft(12 * kMs), 4 * kMs);
  EXPECT_EQ(budget.Next(15 * kMs), 0);
  EXPECT_GT(budget.Next(16 * kMs), 0);
  // Alone in the bulk lane (the normal lane idle for idle_after): no pause.
  budget.Observe(0, 8, 2 * kMs, 600 * kMs);
  EXPECT_GT(budget.Next(600 * kMs), 0);
  EXPECT_EQ(budget.PauseLeft(600 * kMs), 0);
}

}  // namespace
}  // namespace herald::redis
