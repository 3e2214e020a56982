// The wait store's key layout (runs/WAIT_LAYOUT.md), against a real Redis:
// a wait of one activity is a field, not keys; a second activity makes it a
// batch hash (sliding windows still capped); a run gets its record when its
// activity leaves, so replays stay duplicates before and after; cancels
// take activities out of either shape; and batches an older Herald opened
// (open pointer, its own timer) are joined, flushed and cancelled.
// wait_store_test races the same scripts; this checks what each leaves.
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "core/keys.h"
#include "gtest/gtest.h"
#include "herald/v1/pipeline.pb.h"
#include "runs/wait_store.h"
#include "tests/support/redis_fixture.h"
#include "tests/support/wait_appends.h"

namespace herald::runs {
namespace {

const Keys kKeys(0);
constexpr int64_t kStartMs = 1'800'000'000'000;
constexpr int64_t kRunTtlSeconds = 3600;

// This file's appends: a digest for rita, 10-second windows.
struct AppendOptions : herald::testing::TestAppendOptions {
  AppendOptions() {
    workflow = "digest";
    recipient = "rita";
    actor = "ana";
    data_json = R"({"post_id": "p1"})";
    window_ms = 10'000;
    max_window_ms = 10'000;
    run_ttl_seconds = kRunTtlSeconds;
  }
};

WaitAppend MakeAppend(const std::string& wait_key, const std::string& run_id, int64_t now_ms,
                      const AppendOptions& options = {}) {
  return herald::testing::MakeTestAppend(wait_key, run_id, now_ms, options);
}

struct Flushed {
  std::string batch_id;
  std::vector<std::string> runs;  // in sequence order
  std::vector<int64_t> sequences;
};

// Every entry of the batches stream (of the normal lane unless `stream`), in
// order.
std::vector<Flushed> ReadFlushed(redis::RedisClient& client, const std::string& stream = kKeys.Batches()) {
  std::vector<Flushed> out;
  auto reply = client.Execute({"XRANGE", stream, "-", "+"});
  EXPECT_TRUE(reply.ok()) << reply.status();
  if (!reply.ok()) return out;
  for (const auto& entry : reply->elements) {
    v1::internal::BatchEnvelope envelope;
    EXPECT_TRUE(envelope.ParseFromString(entry.elements[1].elements[1].str));
    std::vector<std::pair<int64_t, std::string>> activities;
    for (const auto& activity : envelope.activities()) activities.emplace_back(activity.sequence(), activity.run_id());
    std::sort(activities.begin(), activities.end());
    Flushed flushed{envelope.targets(0).batch_id(), {}, {}};
    for (const auto& [sequence, run] : activities) {
      flushed.runs.push_back(run);
      flushed.sequences.push_back(sequence);
    }
    out.push_back(std::move(flushed));
  }
  return out;
}

class WaitLayoutTest : public testing::RedisTest {
 protected:
  void SetUp() override {
    testing::RedisTest::SetUp();
    client_ = Connect();
  }
  std::string Append(const WaitAppend& append) {
    auto reply = client_->Execute(AppendCommand(kKeys, append));
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? reply->str : reply.status().ToString();
  }
  ClaimResult Claim(int64_t now_ms) {
    auto reply = client_->Execute(ClaimCommand(kKeys, now_ms, 1000, kRunTtlSeconds));
    EXPECT_TRUE(reply.ok()) << reply.status();
    if (!reply.ok()) return {};
    auto result = ParseClaimReply(*reply);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : ClaimResult{};
  }
  int64_t Integer(const redis::Command& command) {
    auto reply = client_->Execute(command);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? reply->integer : -1;
  }
  std::string String(const redis::Command& command) {
    auto reply = client_->Execute(command);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? reply->str : "";
  }
  // Keys by kind (the part after "herald:{0}:" up to the next ':').
  std::map<std::string, int> KeyKinds() {
    std::map<std::string, int> kinds;
    for (const std::string& key : AllKeys()) {
      std::string rest = key.substr(kKeys.Prefix().size());
      ++kinds[rest.substr(0, rest.find(':'))];
    }
    return kinds;
  }

  std::unique_ptr<redis::RedisClient> client_;
};

TEST_F(WaitLayoutTest, OneActivityWaitsAreFieldsAndRunsAreRememberedWhenTheyLeave) {
  for (int i = 0; i < 30; ++i) {
    EXPECT_EQ(Append(MakeAppend(absl::StrCat("wk-", i), absl::StrCat("run-", i), kStartMs)), "opened");
  }
  for (int i = 0; i < 10; ++i) {
    AppendOptions delay;
    delay.delay = true;
    delay.window_ms = delay.max_window_ms = 5'000;
    EXPECT_EQ(Append(MakeAppend(absl::StrCat("dk-", i), absl::StrCat("delayed-", i), kStartMs, delay)), "opened");
  }
  // 40 waits, and only the timer and two hashes to hold them: no key per
  // wait, no run record while the wait answers for its run.
  EXPECT_EQ(KeyKinds(), (std::map<std::string, int>{{"delays", 1}, {"timer", 1}, {"waits", 1}}));
  EXPECT_EQ(Integer({"HLEN", kKeys.Waits()}), 30);
  EXPECT_EQ(Integer({"HLEN", kKeys.Delays()}), 10);
  EXPECT_EQ(Integer({"ZCARD", kKeys.Due()}), 40);

  ClaimResult claimed = Claim(kStartMs + 10'000);
  EXPECT_EQ(claimed.claimed, 40);
  EXPECT_EQ(claimed.emitted, 40);
  int delays = 0;
  for (const FlushedWait& wait : claimed.flushed) {
    EXPECT_EQ(wait.activities, 1);
    delays += wait.delay;
  }
  EXPECT_EQ(delays, 10) << "the delays' hash says what they are";
  std::set<std::string> runs;
  for (const Flushed& flushed : ReadFlushed(*client_)) {
    ASSERT_EQ(flushed.runs.size(), 1u);
    runs.insert(flushed.runs[0]);
  }
  EXPECT_EQ(runs.size(), 40u);
  // What stays: one record per run, living the run TTL from the flush.
  EXPECT_EQ(KeyKinds(), (std::map<std::string, int>{{"batches", 1}, {"ran", 40}}));
  const int64_t ttl = Integer({"PTTL", kKeys.RunAppended("run-7", 0)});
  EXPECT_GT(ttl, kRunTtlSeconds * 1000 - 60'000);
  EXPECT_LE(ttl, kRunTtlSeconds * 1000);
}

TEST_F(WaitLayoutTest, ReplaysAreDuplicatesWhileWaitingAndAfterTheFlush) {
  AppendOptions delay;
  delay.delay = true;
  const WaitAppend opener = MakeAppend("wk", "run-1", kStartMs);
  const WaitAppend joiner = MakeAppend("wk", "run-2", kStartMs + 1);
  const WaitAppend delayed = MakeAppend("dk", "run-3", kStartMs, delay);
  EXPECT_EQ(Append(opener), "opened");
  EXPECT_EQ(Append(delayed), "opened");
  EXPECT_EQ(Append(delayed), "duplicate") << "an inline delay knows its run";
  EXPECT_EQ(Append(joiner), "joined");
  EXPECT_EQ(Append(opener), "duplicate") << "the batch hash knows its first run";
  EXPECT_EQ(Append(joiner), "duplicate");
  Claim(kStartMs + 20'000);
  for (const WaitAppend* append : {&opener, &joiner, &delayed}) {
    EXPECT_EQ(Append(*append), "duplicate") << append->run_id << " replayed after the flush";
  }
  auto flushed = ReadFlushed(*client_);
  ASSERT_EQ(flushed.size(), 2u);
  std::multiset<size_t> sizes = {flushed[0].runs.size(), flushed[1].runs.size()};
  EXPECT_EQ(sizes, (std::multiset<size_t>{1, 2}));
}

TEST_F(WaitLayoutTest, ASecondActivityMakesABatchHashThatStillSlidesUpToItsCap) {
  AppendOptions sliding;
  sliding.sliding = true;
  sliding.window_ms = 10'000;
  sliding.max_window_ms = 25'000;
  auto due = [&] { return String({"ZSCORE", kKeys.Due(), "wk"}); };
  EXPECT_EQ(Append(MakeAppend("wk", "run-1", kStartMs, sliding)), "opened");
  EXPECT_EQ(due(), std::to_string(kStartMs + 10'000));
  EXPECT_EQ(Append(MakeAppend("wk", "run-2", kStartMs + 5'000, sliding)), "joined");
  EXPECT_EQ(due(), std::to_string(kStartMs + 15'000)) << "slid by the join";
  EXPECT_EQ(Integer({"HLEN", kKeys.Waits()}), 0) << "two activities: no longer inline";
  EXPECT_EQ(Append(MakeAppend("wk", "run-3", kStartMs + 12'000, sliding)), "joined");
  EXPECT_EQ(due(), std::to_string(kStartMs + 22'000));
  EXPECT_EQ(Append(MakeAppend("wk", "run-4", kStartMs + 20'000, sliding)), "joined");
  EXPECT_EQ(due(), std::to_string(kStartMs + 25'000)) << "never past opened + max window";
  // A batch of several flushes in one step: its runs are remembered as they
  // join, not one by one at the flush.
  EXPECT_EQ(KeyKinds(), (std::map<std::string, int>{{"ran", 4}, {"timer", 1}, {"wh", 1}}));

  EXPECT_EQ(Claim(kStartMs + 24'999).claimed, 0);
  EXPECT_EQ(Claim(kStartMs + 25'000).emitted, 1);
  auto flushed = ReadFlushed(*client_);
  ASSERT_EQ(flushed.size(), 1u);
  EXPECT_EQ(flushed[0].batch_id, "batch-of-run-1") << "named after the run that opened it";
  EXPECT_EQ(flushed[0].runs, (std::vector<std::string>{"run-1", "run-2", "run-3", "run-4"}));
  EXPECT_EQ(flushed[0].sequences, (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(KeyKinds(), (std::map<std::string, int>{{"batches", 1}, {"ran", 4}}));
}

TEST_F(WaitLayoutTest, TheCapClosesUnderTheBatchIdAndTheNextActivityOpensANewBatch) {
  AppendOptions capped;
  capped.max_activities = 2;
  capped.window_ms = capped.max_window_ms = 3'600'000;
  EXPECT_EQ(Append(MakeAppend("wk", "run-1", kStartMs, capped)), "opened");
  EXPECT_EQ(Append(MakeAppend("wk", "run-2", kStartMs + 1, capped)), "joined");
  EXPECT_EQ(String({"ZSCORE", kKeys.Due(), "batch-of-run-1"}), std::to_string(kStartMs + 1)) << "due at once";
  EXPECT_EQ(Append(MakeAppend("wk", "run-3", kStartMs + 2, capped)), "opened");
  AppendOptions one;
  one.max_activities = 1;
  one.window_ms = one.max_window_ms = 3'600'000;
  EXPECT_EQ(Append(MakeAppend("solo", "run-4", kStartMs + 3, one)), "opened");
  EXPECT_EQ(String({"ZSCORE", kKeys.Due(), "batch-of-run-4"}), std::to_string(kStartMs + 3));
  // Closed batches are no longer under their wait key, and not flushed yet:
  // a replay of their runs must still be a duplicate, not open another.
  EXPECT_EQ(Append(MakeAppend("wk", "run-2", kStartMs + 1, capped)), "duplicate");
  EXPECT_EQ(Append(MakeAppend("wk", "run-1", kStartMs, capped)), "duplicate");
  EXPECT_EQ(Append(MakeAppend("solo", "run-4", kStartMs + 3, one)), "duplicate");

  ClaimResult claimed = Claim(kStartMs + 10);
  EXPECT_EQ(claimed.emitted, 2) << "the two full batches, not the one still open";
  Claim(kStartMs + 3'600'002);
  std::map<std::string, std::vector<std::string>> batches;
  for (const Flushed& flushed : ReadFlushed(*client_)) batches[flushed.batch_id] = flushed.runs;
  EXPECT_EQ(batches, (std::map<std::string, std::vector<std::string>>{{"batch-of-run-1", {"run-1", "run-2"}},
                                                                      {"batch-of-run-3", {"run-3"}},
                                                                      {"batch-of-run-4", {"run-4"}}}));
  EXPECT_EQ(KeyKinds(), (std::map<std::string, int>{{"batches", 1}, {"ran", 4}}));
}

TEST_F(WaitLayoutTest, ALeadingItemGoesOutAtOnceAndTheRestOfTheWindowIsBatched) {
  AppendOptions leading;
  leading.leading = true;
  EXPECT_EQ(Append(MakeAppend("wk", "run-1", kStartMs, leading)), "leading");
  EXPECT_EQ(Append(MakeAppend("wk", "run-1", kStartMs, leading)), "duplicate");
  EXPECT_EQ(Append(MakeAppend("wk", "run-2", kStartMs + 1, leading)), "joined");
  EXPECT_EQ(Append(MakeAppend("wk", "run-3", kStartMs + 2, leading)), "joined");
  Claim(kStartMs + 10'000);
  auto flushed = ReadFlushed(*client_);
  ASSERT_EQ(flushed.size(), 2u);
  EXPECT_EQ(flushed[0].batch_id, "leading-of-run-1");
  EXPECT_EQ(flushed[0].runs, (std::vector<std::string>{"run-1"}));
  EXPECT_EQ(flushed[1].runs, (std::vector<std::string>{"run-2", "run-3"}));
  EXPECT_EQ(flushed[1].sequences, (std::vector<int64_t>{1, 2}));
}

TEST_F(WaitLayoutTest, CancelTakesActivitiesOutOfEitherShapeAndLeavesNoWait) {
  AppendOptions cancellable;
  cancellable.cancellation_key = "order-7";
  EXPECT_EQ(Append(MakeAppend("alone", "run-1", kStartMs, cancellable)), "opened");
  EXPECT_EQ(Append(MakeAppend("pair", "run-2", kStartMs, cancellable)), "opened");
  EXPECT_EQ(Append(MakeAppend("pair", "run-3", kStartMs, cancellable)), "joined");
  EXPECT_EQ(Append(MakeAppend("pair", "run-4", kStartMs, {})), "joined") << "no cancellation key: stays";
  // A run with a cancellation key has its record from the start.
  EXPECT_EQ(Integer({"EXISTS", kKeys.Run("run-1")}), 1);
  EXPECT_EQ(Integer({"EXISTS", kKeys.Run("run-4")}), 0);

  auto cancelled = client_->Execute(CancelCommand(kKeys, "digest", "order-7", {"rita"}, kStartMs + 1));
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->integer, 3);
  for (const char* run : {"run-1", "run-2", "run-3"}) {
    EXPECT_EQ(String({"HGET", kKeys.Run(run), "status"}), "cancelled") << run;
  }
  EXPECT_EQ(Integer({"HLEN", kKeys.Waits()}), 0) << "the inline wait went with its only activity";
  EXPECT_EQ(Integer({"ZCARD", kKeys.Due()}), 1) << "only the pair's batch, holding run-4, is left";
  Claim(kStartMs + 10'000);
  auto flushed = ReadFlushed(*client_);
  ASSERT_EQ(flushed.size(), 1u);
  EXPECT_EQ(flushed[0].runs, (std::vector<std::string>{"run-4"}));
  for (const auto& [kind, count] : KeyKinds()) {
    EXPECT_TRUE(kind == "batches" || kind == "run" || kind == "ran" || kind == "cancel" || kind == "cancelr")
        << "left behind: " << kind;
  }
}

// What an older Herald wrote for an open batch (its open pointer, header
// and activities hashes, its own timer) and for a pending delay.
TEST_F(WaitLayoutTest, WaitsAnOlderHeraldOpenedAreJoinedFlushedAndCancelled) {
  const WaitAppend first = MakeAppend("ignored", "run-0", kStartMs);
  auto older_activity = [](const std::string& run_id) {
    v1::internal::Activity activity;
    activity.set_run_id(run_id);
    activity.set_sequence(1);
    return activity.SerializeAsString();
  };
  ASSERT_TRUE(client_
                  ->Pipeline({{"SET", kKeys.WaitOpen("hex-wk"), "old-batch"},
                              {"HSET", kKeys.WaitHeader("old-batch"), "h", first.header_blob, "opened",
                               std::to_string(kStartMs), "wait", "hex-wk", "k", "b", "n", "1"},
                              {"HSET", kKeys.WaitActivities("old-batch"), "run-0", older_activity("run-0")},
                              {"ZADD", kKeys.OlderDue(), std::to_string(kStartMs + 10'000), "old-batch"},
                              {"HSET", kKeys.Run("run-0"), "s0", std::to_string(kStartMs)},
                              {"HSET", kKeys.WaitHeader("old-delay"), "h", first.header_blob, "opened",
                               std::to_string(kStartMs), "wait", "hex-dk", "k", "d", "n", "1", "l", "1"},
                              {"HSET", kKeys.WaitActivities("old-delay"), "run-9", older_activity("run-9")},
                              {"ZADD", kKeys.OlderDue(), std::to_string(kStartMs + 5'000), "old-delay"},
                              {"HSET", kKeys.WaitHeader("old-cancellable"), "h", first.header_blob, "opened",
                               std::to_string(kStartMs), "wait", "hex-ck", "k", "b", "n", "1"},
                              {"HSET", kKeys.WaitActivities("old-cancellable"), "run-8", older_activity("run-8")},
                              {"SET", kKeys.WaitOpen("hex-ck"), "old-cancellable"},
                              {"ZADD", kKeys.OlderDue(), std::to_string(kStartMs + 10'000), "old-cancellable"},
                              {"HSET", kKeys.CancelIndex("digest", "order-7", "rita"), "run-8", "old-cancellable"}})
                  .back()
                  .ok());
  // The same wait key as this Herald spells it: joins the older batch.
  WaitAppend joining = MakeAppend("new-wk", "run-1", kStartMs + 1);
  joining.older_wait_key = "hex-wk";
  EXPECT_EQ(Append(joining), "joined");
  EXPECT_EQ(Append(joining), "duplicate");
  EXPECT_EQ(Append(MakeAppend("hex-wk", "run-0", kStartMs)), "duplicate") << "the older run record counts";

  auto cancelled = client_->Execute(CancelCommand(kKeys, "digest", "order-7", {"rita"}, kStartMs + 2));
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->integer, 1);

  ClaimResult claimed = Claim(kStartMs + 10'000);
  EXPECT_EQ(claimed.claimed, 2) << "the older batch and delay; the cancelled batch is gone";
  ASSERT_EQ(claimed.flushed.size(), 2u);
  EXPECT_TRUE(claimed.flushed[0].delay) << "due first, and the older header says it is a delay";
  EXPECT_FALSE(claimed.flushed[1].delay);
  // The older delay was opened in the bulk lane (its 'l'): it flushes there.
  auto flushed_bulk = ReadFlushed(*client_, kKeys.BatchesBulk());
  ASSERT_EQ(flushed_bulk.size(), 1u);
  EXPECT_EQ(flushed_bulk[0].runs, (std::vector<std::string>{"run-9"}));
  auto flushed = ReadFlushed(*client_);
  ASSERT_EQ(flushed.size(), 1u);
  EXPECT_EQ(flushed[0].runs, (std::vector<std::string>{"run-0", "run-1"}));
  EXPECT_EQ(flushed[0].sequences, (std::vector<int64_t>{1, 2}));
  for (const auto& [kind, count] : KeyKinds()) {
    EXPECT_TRUE(kind == "batches" || kind == "run" || kind == "ran" || kind == "cancel")
        << "left behind: " << kind;
  }
  // Once the older batch is gone, the wait key opens a batch of this layout.
  EXPECT_EQ(Append(MakeAppend("new-wk", "run-5", kStartMs + 20'000)), "opened");
  EXPECT_EQ(Integer({"HLEN", kKeys.Waits()}), 1);
}

TEST_F(WaitLayoutTest, AnActivityOfAnotherRunIsRefused) {
  WaitAppend append = MakeAppend("wk", "run-1", kStartMs);
  append.run_id = "run-2";
  auto reply = client_->Execute(AppendCommand(kKeys, append));
  EXPECT_FALSE(reply.ok());
  EXPECT_NE(reply.status().message().find("run_id"), std::string::npos) << reply.status();
  EXPECT_TRUE(AllKeys().empty());
}

}  // namespace
}  // namespace herald::runs
