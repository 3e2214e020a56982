// The batching protocol under races, against a real Redis: appends racing
// claims (fixed and sliding windows), two claimers at once, cancels racing
// claims. Each run asserts the whole invariant: every activity is in exactly
// one flushed batch (or cancelled, never both), every batch in one entry.
#include <atomic>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "runs/wait_store.h"
#include "core/clock.h"
#include "core/keys.h"
#include "gtest/gtest.h"
#include "herald/v1/pipeline.pb.h"
#include "tests/support/redis_fixture.h"
#include "tests/support/wait_appends.h"

namespace herald::runs {
namespace {

const Keys kKeys(0);
// The simulated time starts at the real one (any start works: the scripts'
// record lifetimes are relative).
const int64_t kStartMs = SystemClock::Get().NowMillis();

WaitAppend MakeAppend(const std::string& wait_key, const std::string& run_id, int64_t now_ms, bool sliding,
                      const std::string& cancellation_key = "", const std::string& recipient = "r") {
  herald::testing::TestAppendOptions options;
  options.recipient = recipient;
  options.cancellation_key = cancellation_key;
  options.window_ms = 1;
  options.max_window_ms = 3;
  options.sliding = sliding;
  return herald::testing::MakeTestAppend(wait_key, run_id, now_ms, options);
}

// Every flushed batch: run ids per batch id.
std::map<std::string, std::vector<std::string>> ReadBatches(redis::RedisClient& client) {
  std::map<std::string, std::vector<std::string>> envelopes;
  auto reply = client.Execute({"XRANGE", kKeys.Batches(), "-", "+"});
  EXPECT_TRUE(reply.ok());
  for (const auto& entry : reply->elements) {
    v1::internal::BatchEnvelope envelope;
    EXPECT_TRUE(envelope.ParseFromString(entry.elements[1].elements[1].str));
    auto& runs = envelopes[envelope.targets(0).batch_id()];
    EXPECT_TRUE(runs.empty()) << "batch " << envelope.targets(0).batch_id() << " flushed twice";
    for (const auto& activity : envelope.activities()) runs.push_back(activity.run_id());
    // Arrival sequence numbers are unique within a batch.
    std::set<int64_t> sequences;
    for (const auto& activity : envelope.activities()) EXPECT_TRUE(sequences.insert(activity.sequence()).second);
  }
  return envelopes;
}

// Which side moves the simulated time on: each append, or each claim.
enum class Tick { kOnAppend, kOnClaim };

// `appenders` threads send the appends `make(appender, i, now_ms)` in
// pipelines of `pipeline`, while two claimers claim up to `claim_limit`
// due waits at a time; returns once every append is in.
class WaitStoreFixture : public testing::RedisTest {
 protected:
  static void RaceAppendsAndClaims(int appenders, int per_appender, size_t pipeline, int claim_limit, Tick tick,
                                   const std::function<WaitAppend(int, int, int64_t)>& make);
};

void WaitStoreFixture::RaceAppendsAndClaims(int appenders, int per_appender, size_t pipeline, int claim_limit,
                                            Tick tick, const std::function<WaitAppend(int, int, int64_t)>& make) {
  std::atomic<int> appenders_done{0};
  std::atomic<int64_t> clock_ms{kStartMs};
  std::vector<std::thread> threads;
  for (int a = 0; a < appenders; ++a) {
    threads.emplace_back([&, a] {
      auto client = Connect();
      std::vector<redis::Command> batch;
      for (int i = 0; i < per_appender; ++i) {
        int64_t now = tick == Tick::kOnAppend ? clock_ms.fetch_add(1) : clock_ms.load();
        batch.push_back(AppendCommand(kKeys, make(a, i, now)));
        if (batch.size() == pipeline || i + 1 == per_appender) {
          for (auto& reply : client->Pipeline(batch)) EXPECT_TRUE(reply.ok()) << reply.status();
          batch.clear();
        }
      }
      ++appenders_done;
    });
  }
  for (int c = 0; c < 2; ++c) {
    threads.emplace_back([&] {
      auto client = Connect();
      while (appenders_done.load() < appenders) {
        int64_t now = tick == Tick::kOnClaim ? clock_ms.fetch_add(1) : clock_ms.load();
        auto reply = client->Execute(ClaimCommand(kKeys, now, claim_limit));
        EXPECT_TRUE(reply.ok()) << reply.status();
      }
    });
  }
  for (auto& thread : threads) thread.join();
}

class WaitStoreTest : public WaitStoreFixture, public ::testing::WithParamInterface<bool> {};

TEST_P(WaitStoreTest, AppendsRacingTwoClaimersLoseAndDoubleNothing) {
  const bool sliding = GetParam();
  constexpr int kAppenders = 3;
  constexpr int kPerAppender = 1500;
  RaceAppendsAndClaims(kAppenders, kPerAppender, 25, 16, Tick::kOnAppend, [&](int a, int i, int64_t now) {
    // A handful of batches, so appends and claims keep meeting.
    return MakeAppend(absl::StrCat("wk", i % 4), absl::StrCat("run-", a, "-", i), now, sliding);
  });
  auto client = Connect();
  ASSERT_TRUE(client->Execute(ClaimCommand(kKeys, INT64_MAX / 2, 1000)).ok());

  std::multiset<std::string> delivered;
  auto envelopes = ReadBatches(*client);
  for (const auto& [envelope, runs] : envelopes) delivered.insert(runs.begin(), runs.end());
  EXPECT_EQ(delivered.size(), static_cast<size_t>(kAppenders * kPerAppender));
  EXPECT_EQ(std::set<std::string>(delivered.begin(), delivered.end()).size(), delivered.size()) << "doubled";
  EXPECT_GT(envelopes.size(), 4u) << "claims never interleaved with appends";
  for (const std::string& key : AllKeys()) {
    EXPECT_EQ(key.find(":wa:"), std::string::npos) << "left behind: " << key;
    EXPECT_EQ(key.find(":wh:"), std::string::npos) << "left behind: " << key;
  }
}

INSTANTIATE_TEST_SUITE_P(FixedAndSliding, WaitStoreTest, ::testing::Values(false, true));

class WaitStoreRaceTest : public WaitStoreFixture {};

TEST_F(WaitStoreRaceTest, CancelRacingClaimNeverBothNeverNeither) {
  constexpr int kRuns = 3000;
  std::atomic<bool> appending{true};
  std::atomic<int64_t> clock_ms{kStartMs};
  std::thread appender([&] {
    auto client = Connect();
    for (int i = 0; i < kRuns; ++i) {
      std::string recipient = absl::StrCat("r", i % 10);
      auto reply = client->Execute(AppendCommand(
          kKeys, MakeAppend(absl::StrCat("wk-", recipient), absl::StrCat("run-", i), clock_ms.fetch_add(1), false,
                            "ck", recipient)));
      EXPECT_TRUE(reply.ok()) << reply.status();
    }
    appending = false;
  });
  std::thread claimer([&] {
    auto client = Connect();
    while (appending) EXPECT_TRUE(client->Execute(ClaimCommand(kKeys, clock_ms.load(), 8)).ok());
  });
  int64_t cancelled = 0;
  std::thread canceller([&] {
    auto client = Connect();
    while (appending) {
      auto reply = client->Execute(CancelCommand(kKeys, "w", "ck", {"r3", "r7"}, clock_ms.load() - 2));
      EXPECT_TRUE(reply.ok()) << reply.status();
      if (reply.ok()) cancelled += reply->integer;
    }
  });
  appender.join();
  claimer.join();
  canceller.join();
  auto client = Connect();
  ASSERT_TRUE(client->Execute(ClaimCommand(kKeys, INT64_MAX / 2, 1000)).ok());
  std::set<std::string> delivered;
  for (const auto& [envelope, runs] : ReadBatches(*client)) {
    for (const auto& run : runs) EXPECT_TRUE(delivered.insert(run).second) << run << " delivered twice";
  }
  int64_t recorded_cancelled = 0;
  for (int i = 0; i < kRuns; ++i) {
    std::string run = absl::StrCat("run-", i);
    auto status = client->Execute({"HGET", kKeys.Run(run), "status"});
    ASSERT_TRUE(status.ok());
    bool is_cancelled = status->str == "cancelled";
    recorded_cancelled += is_cancelled;
    EXPECT_NE(is_cancelled, delivered.count(run) == 1) << run << (is_cancelled ? " both" : " neither");
    if (i % 10 != 3 && i % 10 != 7) {
      EXPECT_FALSE(is_cancelled) << run;
    }
  }
  EXPECT_GT(recorded_cancelled, 0);
  // Runs cancelled on arrival (after a recorded cancellation) are not in
  // the calls' counts, so the record holds at least as many.
  EXPECT_LE(cancelled, recorded_cancelled);
}

// Many appenders hammer one batch key with max activities 3 while two
// claimers take due batches: reaching the cap closes the batch in the
// append itself, so no batch ever holds more than 3 activities, and every
// activity is still in exactly one flushed batch.
TEST_F(WaitStoreRaceTest, AppendsAcrossTheCapNeverOverfillABatch) {
  constexpr int kAppenders = 3;
  constexpr int kPerAppender = 600;
  RaceAppendsAndClaims(kAppenders, kPerAppender, 7, 8, Tick::kOnClaim, [](int a, int i, int64_t now) {
    WaitAppend append = MakeAppend("one-key", absl::StrCat("run-", a, "-", i), now, false);
    append.window_ms = 3'600'000;  // only the cap closes these batches
    append.max_window_ms = append.window_ms;
    append.max_activities = 3;
    return append;
  });
  auto client = Connect();
  ASSERT_TRUE(client->Execute(ClaimCommand(kKeys, INT64_MAX / 2, 10000)).ok());
  std::set<std::string> delivered;
  size_t full = 0;
  auto batches = ReadBatches(*client);
  for (const auto& [batch_id, runs] : batches) {
    EXPECT_LE(runs.size(), 3u) << "batch " << batch_id << " took activities past its cap";
    full += runs.size() == 3;
    for (const auto& run : runs) EXPECT_TRUE(delivered.insert(run).second) << run << " delivered twice";
  }
  EXPECT_EQ(delivered.size(), static_cast<size_t>(kAppenders * kPerAppender)) << "lost activities";
  EXPECT_GE(full, batches.size() - 1) << "only the last batch may close below the cap";
  for (const std::string& key : AllKeys()) {
    EXPECT_EQ(key.find(":wa:"), std::string::npos) << "left behind: " << key;
    EXPECT_EQ(key.find(":wh:"), std::string::npos) << "left behind: " << key;
    EXPECT_EQ(key.find(":wo:"), std::string::npos) << "left behind: " << key;
  }
}

// A batch opened by an older Herald (keyed by its wait key, no open
// pointer) is joined once after an upgrade and then behaves like any other:
// the cap closes it, and the next activity opens a new batch.
TEST_F(WaitStoreRaceTest, ABatchOpenedBeforePointersExistedIsTakenOverOnce) {
  auto client = Connect();
  WaitAppend legacy = MakeAppend("wk-old", "run-0", kStartMs, false);
  v1::internal::Activity first;
  first.set_run_id("run-0");
  ASSERT_TRUE(client
                  ->Pipeline({{"HSET", kKeys.WaitHeader("wk-old"), "h", legacy.header_blob, "opened",
                               std::to_string(kStartMs), "n", "1"},
                              {"HSET", kKeys.WaitActivities("wk-old"), "run-0", first.SerializeAsString()},
                              {"ZADD", kKeys.Due(), std::to_string(kStartMs + 3'600'000), "wk-old"}})
                  .back()
                  .ok());
  for (int i = 1; i <= 4; ++i) {
    WaitAppend append = MakeAppend("wk-old", absl::StrCat("run-", i), kStartMs + i, false);
    append.window_ms = 3'600'000;
    append.max_window_ms = append.window_ms;
    append.max_activities = 3;
    auto reply = client->Execute(AppendCommand(kKeys, append));
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(reply->str, i == 3 ? "opened" : "joined") << "append " << i;
  }
  ASSERT_TRUE(client->Execute(ClaimCommand(kKeys, INT64_MAX / 2, 100)).ok());
  std::multiset<size_t> sizes;
  for (const auto& [batch_id, runs] : ReadBatches(*client)) sizes.insert(runs.size());
  EXPECT_EQ(sizes, (std::multiset<size_t>{3, 2})) << "the old batch took 2 more up to its cap; then a new one";
  for (const std::string& key : AllKeys()) {
    EXPECT_EQ(key.find(":wo:"), std::string::npos) << "left behind: " << key;
    EXPECT_EQ(key.find(":wh:"), std::string::npos) << "left behind: " << key;
  }
}

TEST_F(WaitStoreRaceTest, ReplayedAppendIsADuplicate) {
  auto client = Connect();
  auto append = AppendCommand(kKeys, MakeAppend("wk", "run-1", kStartMs, false));
  EXPECT_EQ(client->Execute(append)->str, "opened");
  EXPECT_EQ(client->Execute(append)->str, "duplicate");
  ASSERT_TRUE(client->Execute(ClaimCommand(kKeys, kStartMs + 4000, 10)).ok());
  EXPECT_EQ(client->Execute(append)->str, "duplicate") << "a replay after the flush must not open a new batch";
  EXPECT_EQ(ReadBatches(*client).size(), 1u);
}

}  // namespace
}  // namespace herald::runs
