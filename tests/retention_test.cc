// Stream retention against a real Redis: a stage stream is trimmed only up
// to what every consumer group has read and acknowledged, a stream without a
// group is never trimmed, the message log is trimmed by age only, and a
// trimmer racing a reading/acking consumer never loses an entry.
#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/clock.h"
#include "core/keys.h"
#include "feed/feed_store.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "retention/stream_trimmer.h"
#include "tests/support/eventually.h"
#include "tests/support/redis_fixture.h"

namespace herald::retention {
namespace {

using herald::testing::Eventually;

const Keys kKeys(0);

class RetentionTest : public testing::RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    client_ = Connect();
  }

  // Adds entries "0".."count-1" (field p) and returns their ids.
  std::vector<std::string> Add(const std::string& stream, int count, int first = 0) {
    std::vector<redis::Command> adds;
    for (int i = 0; i < count; ++i) adds.push_back({"XADD", stream, "*", "p", std::to_string(first + i)});
    std::vector<std::string> ids;
    for (auto& reply : client_->Pipeline(adds)) {
      EXPECT_TRUE(reply.ok()) << reply.status();
      ids.push_back(reply.ok() ? reply->str : "");
    }
    return ids;
  }

  void CreateGroup(const std::string& stream, const std::string& group) {
    auto reply = client_->Execute({"XGROUP", "CREATE", stream, group, "0", "MKSTREAM"});
    ASSERT_TRUE(reply.ok()) << reply.status();
  }

  // Reads up to `count` new entries for `group`; returns their ids.
  std::vector<std::string> Read(const std::string& stream, const std::string& group, int count) {
    auto reply = client_->Execute(
        {"XREADGROUP", "GROUP", group, "c", "COUNT", std::to_string(count), "STREAMS", stream, ">"});
    EXPECT_TRUE(reply.ok()) << reply.status();
    std::vector<std::string> ids;
    if (!reply.ok() || reply->is_nil()) return ids;
    for (const auto& entry : reply->elements[0].elements[1].elements) ids.push_back(entry.elements[0].str);
    return ids;
  }

  void Ack(const std::string& stream, const std::string& group, const std::vector<std::string>& ids) {
    redis::Command ack = {"XACK", stream, group};
    ack.insert(ack.end(), ids.begin(), ids.end());
    auto reply = client_->Execute(ack);
    ASSERT_TRUE(reply.ok()) << reply.status();
    ASSERT_EQ(reply->integer, static_cast<int64_t>(ids.size()));
  }

  // The ids left in the stream, oldest first.
  std::vector<std::string> Left(const std::string& stream) {
    auto reply = client_->Execute({"XRANGE", stream, "-", "+"});
    EXPECT_TRUE(reply.ok()) << reply.status();
    std::vector<std::string> ids;
    if (reply.ok()) {
      for (const auto& entry : reply->elements) ids.push_back(entry.elements[0].str);
    }
    return ids;
  }

  // Marks every item of `user`'s feed read (writes its watermark keys).
  void Mark(const std::string& user) {
    v1::MarkFeedItemsRequest request;
    request.set_user_id(user);
    request.set_action(v1::FEED_ACTION_READ);
    request.set_all(true);
    auto command = feed::MarkCommand(Keys(0), request, 1);
    ASSERT_TRUE(command.ok());
    ASSERT_TRUE(client_->Execute(*command).ok());
  }

  std::unique_ptr<redis::RedisClient> client_;
};

std::vector<std::string> Slice(const std::vector<std::string>& ids, size_t from, size_t to) {
  return std::vector<std::string>(ids.begin() + from, ids.begin() + to);
}

TEST_F(RetentionTest, EntriesReadAndAckedAreTrimmed) {
  const std::string& stream = kKeys.Events();
  CreateGroup(stream, "batcher");
  auto ids = Add(stream, 10);
  Ack(stream, "batcher", Read(stream, "batcher", 10));
  auto stats = TrimConsumed(*client_, stream);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->trimmed, 10);
  EXPECT_EQ(stats->length, 0);
  EXPECT_TRUE(Left(stream).empty());
  // What arrives afterwards is not touched until consumed.
  auto later = Add(stream, 3, 10);
  stats = TrimConsumed(*client_, stream);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->trimmed, 0);
  EXPECT_EQ(Left(stream), later);
}

TEST_F(RetentionTest, PendingAndUnreadEntriesAreNeverTrimmed) {
  const std::string& stream = kKeys.Batches();
  CreateGroup(stream, "fanout");
  auto ids = Add(stream, 10);
  auto read = Read(stream, "fanout", 6);
  ASSERT_EQ(read, Slice(ids, 0, 6));
  // Entries 2 and 5 stay pending; 6..9 were never read.
  Ack(stream, "fanout", {ids[0], ids[1], ids[3], ids[4]});
  auto stats = TrimConsumed(*client_, stream);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->trimmed, 2);
  EXPECT_EQ(stats->length, 8);
  EXPECT_EQ(Left(stream), Slice(ids, 2, 10));
  // Acking the oldest pending one moves the point to the next pending one.
  Ack(stream, "fanout", {ids[2]});
  stats = TrimConsumed(*client_, stream);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(Left(stream), Slice(ids, 5, 10));
  // Nothing pending: the point is the first entry never delivered.
  Ack(stream, "fanout", {ids[5]});
  stats = TrimConsumed(*client_, stream);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(Left(stream), Slice(ids, 6, 10));
  // The pending entries can still be reclaimed by another consumer: they are
  // there, not deleted ids.
  EXPECT_EQ(Read(stream, "fanout", 10), Slice(ids, 6, 10));
}

TEST_F(RetentionTest, TwoGroupsTrimOnlyUpToTheSlowerOne) {
  const std::string& stream = kKeys.Expansions();
  CreateGroup(stream, "fast");
  CreateGroup(stream, "slow");
  auto ids = Add(stream, 10);
  Ack(stream, "fast", Read(stream, "fast", 10));
  Ack(stream, "slow", Read(stream, "slow", 4));
  auto stats = TrimConsumed(*client_, stream);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->trimmed, 4);
  EXPECT_EQ(Left(stream), Slice(ids, 4, 10));
  // The slow group reads the rest, in order, without a gap.
  EXPECT_EQ(Read(stream, "slow", 10), Slice(ids, 4, 10));
}

TEST_F(RetentionTest, StreamWithoutGroupIsNotTrimmed) {
  const std::string& stream = kKeys.Deliveries();
  auto ids = Add(stream, 5);
  auto stats = TrimConsumed(*client_, stream);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->trimmed, 0);
  EXPECT_EQ(stats->length, 5);
  EXPECT_EQ(Left(stream), ids);
  // Nor by a whole pass, however late; and a missing stream is no error.
  auto pass = TrimOnce(*client_, 2, SystemClock::Get().NowMillis() + 1'000'000'000, 1000, nullptr);
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_EQ((*pass)[static_cast<size_t>(StreamKind::kDeliveries)].trimmed, 0);
  EXPECT_EQ((*pass)[static_cast<size_t>(StreamKind::kDeliveries)].length, 5);
  EXPECT_EQ(Left(stream), ids);
  // The group that comes later starts at 0 and finds every entry.
  CreateGroup(stream, "delivery");
  EXPECT_EQ(Read(stream, "delivery", 10), ids);
}

TEST_F(RetentionTest, ThePassTrimsTheBulkLanesWithTheirStreams) {
  // Each lane read and acked in part; a pass trims both lanes up to what
  // their group consumed, and counts a bulk lane with its stream.
  for (const std::string& stream : {kKeys.Events(), kKeys.EventsBulk()}) CreateGroup(stream, "batcher");
  CreateGroup(kKeys.BatchesBulk(), "fanout");
  auto events = Add(kKeys.Events(), 4);
  auto events_bulk = Add(kKeys.EventsBulk(), 6);
  auto batches_bulk = Add(kKeys.BatchesBulk(), 3);
  Ack(kKeys.Events(), "batcher", Read(kKeys.Events(), "batcher", 1));
  Ack(kKeys.EventsBulk(), "batcher", Read(kKeys.EventsBulk(), "batcher", 4));
  Ack(kKeys.BatchesBulk(), "fanout", Read(kKeys.BatchesBulk(), "fanout", 3));
  auto pass = TrimOnce(*client_, 1, SystemClock::Get().NowMillis(), 1'000'000, nullptr);
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_EQ((*pass)[static_cast<size_t>(StreamKind::kEvents)].trimmed, 1 + 4);
  EXPECT_EQ((*pass)[static_cast<size_t>(StreamKind::kEvents)].length, 3 + 2);
  EXPECT_EQ((*pass)[static_cast<size_t>(StreamKind::kBatches)].trimmed, 3);
  EXPECT_EQ(Left(kKeys.Events()), std::vector<std::string>(events.begin() + 1, events.end()));
  EXPECT_EQ(Left(kKeys.EventsBulk()), std::vector<std::string>(events_bulk.begin() + 4, events_bulk.end()));
  EXPECT_TRUE(Left(kKeys.BatchesBulk()).empty());
}

TEST_F(RetentionTest, MessageLogIsTrimmedByAgeOnly) {
  const int64_t retention_ms = 60'000;
  const int64_t now_ms = 1'800'000'000'000;
  SimulatedClock clock(now_ms * 1000);
  const std::string& log = kKeys.MessageLog();
  // Entries at known times: two older than the retention, one exactly at
  // its edge, one recent. No group reads the log.
  std::vector<std::string> ids;
  for (int64_t at : {now_ms - retention_ms - 5000, now_ms - retention_ms - 1, now_ms - retention_ms, now_ms - 1000}) {
    auto reply = client_->Execute({"XADD", log, absl::StrCat(at, "-0"), "m", absl::StrCat("message-", at)});
    ASSERT_TRUE(reply.ok()) << reply.status();
    ids.push_back(reply->str);
  }
  // A consumed stage stream is not trimmed by age (and the log not by
  // consumption): its unread entries stay however old.
  CreateGroup(kKeys.Events(), "batcher");
  auto events = Add(kKeys.Events(), 3);

  prometheus::Registry registry;
  RetentionMetrics metrics(registry);
  auto pass = TrimOnce(*client_, 1, clock.NowMillis(), retention_ms, &metrics);
  ASSERT_TRUE(pass.ok()) << pass.status();
  const auto& log_stats = (*pass)[static_cast<size_t>(StreamKind::kMessageLog)];
  EXPECT_EQ(log_stats.trimmed, 2);
  EXPECT_EQ(log_stats.length, 2);
  EXPECT_EQ(Left(log), Slice(ids, 2, 4));
  EXPECT_EQ(Left(kKeys.Events()), events);
  EXPECT_EQ(metrics.trimmed[static_cast<size_t>(StreamKind::kMessageLog)]->Value(), 2);
  EXPECT_EQ((*pass)[static_cast<size_t>(StreamKind::kEvents)].length, 3);

  clock.AdvanceMillis(59'000);  // the recent entry is now 60 s old: exactly at the edge, kept
  pass = TrimOnce(*client_, 1, clock.NowMillis(), retention_ms, &metrics);
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_EQ(Left(log), Slice(ids, 3, 4));
  clock.AdvanceMillis(1);
  pass = TrimOnce(*client_, 1, clock.NowMillis(), retention_ms, &metrics);
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_TRUE(Left(log).empty());
  EXPECT_EQ(metrics.trimmed[static_cast<size_t>(StreamKind::kMessageLog)]->Value(), 4);
}

TEST_F(RetentionTest, IdleFeedsAreSweptByAgeAndVanishWhenEmpty) {
  // Two users of partition 0 whose feeds get nothing new: ana's items are
  // 10 s and 1 s old, bo's only item 10 s old. Retention: 5 s.
  const Keys keys(0);
  auto item = [](const std::string& user, const std::string& id, int64_t at_us) {
    feed::NewItem item;
    item.item.set_id(id);
    item.item.set_workflow("w");
    item.recipient = user;
    item.channel = "in_app_feed";
    item.inserted_at_us = at_us;
    return item;
  };
  const int64_t now_us = 1'800'000'000'000'000;
  // In time order, as the fan-out inserts (a feed's sequence never goes
  // back, so an item is kept at least the retention, never less).
  for (auto& command : {feed::InsertManyCommand(keys, {item("ana", "old", now_us - 10'000'000)}),
                        feed::InsertManyCommand(keys, {item("bo", "old", now_us - 10'000'000)}),
                        feed::InsertManyCommand(keys, {item("ana", "new", now_us - 1'000'000)})}) {
    ASSERT_TRUE(client_->Execute(command).ok());
  }
  Mark("bo");  // bo's feed has its watermark keys too
  std::vector<std::string> cursors;
  int64_t removed = 0;
  for (int pass = 0; pass < 10; ++pass) {  // SCAN may need several steps
    auto swept = SweepFeeds(*client_, 1, now_us - 5'000'000, cursors);
    ASSERT_TRUE(swept.ok()) << swept.status();
    removed += *swept;
  }
  EXPECT_EQ(removed, 2);
  auto count = [&](const std::string& user) { return client_->Execute(feed::CountItemsCommand(keys, {user}))->integer; };
  EXPECT_EQ(count("ana"), 1);
  EXPECT_EQ(count("bo"), 0);
  auto left = client_->Execute({"KEYS", absl::StrCat(keys.Prefix(), "feed:bo:*")});
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->elements.empty()) << "an empty feed leaves no key";
}

TEST_F(RetentionTest, TrimmerThreadPassesOnTheInjectedClockAndStopsPromptly) {
  SimulatedClock clock(SystemClock::Get().NowMicros());
  prometheus::Registry registry;
  RetentionMetrics metrics(registry);
  const std::string& stream = kKeys.Events();
  CreateGroup(stream, "batcher");
  Add(stream, 4);
  Ack(stream, "batcher", Read(stream, "batcher", 10));

  StreamTrimmerOptions options;
  options.partitions = 1;
  options.interval_ms = 10'000;
  options.poll_ms = 5;
  StreamTrimmer trimmer(endpoint(), clock, options, metrics);
  auto& trimmed = *metrics.trimmed[static_cast<size_t>(StreamKind::kEvents)];
  trimmer.Start();
  // The first pass runs at once.
  EXPECT_TRUE(Eventually([&] { return trimmed.Value() == 4; }));
  EXPECT_TRUE(Left(stream).empty());

  Add(stream, 3, 4);
  Ack(stream, "batcher", Read(stream, "batcher", 10));
  clock.AdvanceMillis(9'999);
  absl::SleepFor(absl::Milliseconds(100));  // twenty polls: none may pass before the interval
  EXPECT_EQ(Left(stream).size(), 3u);
  clock.AdvanceMillis(1);
  EXPECT_TRUE(Eventually([&] { return trimmed.Value() == 7; }));
  EXPECT_TRUE(Left(stream).empty());

  absl::Time stop_started = absl::Now();
  trimmer.Stop();
  EXPECT_LT(absl::Now() - stop_started, absl::Seconds(2));
}

// A producer, two groups each reading and acking in a loop, and a trimmer
// trimming as fast as it can. Each consumer takes new entries (they become
// pending) and only in its next round reads their content back from its
// pending list (XREADGROUP ... 0, what a consumer recovering after a crash
// or XAUTOCLAIM does) and acks them: an entry trimmed while pending comes
// back without its fields. Every entry is read exactly once by each group,
// in order, none lost; and the trimmer did trim.
TEST_F(RetentionTest, TrimmingRacingConsumersLosesNothing) {
  constexpr int kEntries = 6000;
  const std::string& stream = kKeys.Events();
  CreateGroup(stream, "batcher");
  CreateGroup(stream, "audit");
  std::atomic<bool> consumed_all{false};
  std::atomic<int64_t> trimmed{0}, passes{0};

  std::thread producer([&] {
    auto client = Connect();
    for (int first = 0; first < kEntries; first += 50) {
      std::vector<redis::Command> adds;
      for (int i = first; i < first + 50; ++i) adds.push_back({"XADD", stream, "*", "p", std::to_string(i)});
      for (auto& reply : client->Pipeline(adds)) ASSERT_TRUE(reply.ok()) << reply.status();
    }
  });
  auto consume = [&](const std::string& group, int count, std::vector<int>* seen) {
    auto client = Connect();
    absl::Time deadline = absl::Now() + absl::Seconds(90);
    while (static_cast<int>(seen->size()) < kEntries && absl::Now() < deadline) {
      // The previous round's entries, from the pending list.
      auto pending = client->Execute({"XREADGROUP", "GROUP", group, "c", "STREAMS", stream, "0"});
      ASSERT_TRUE(pending.ok()) << pending.status();
      redis::Command ack = {"XACK", stream, group};
      for (const auto& entry : pending->elements[0].elements[1].elements) {
        ASSERT_FALSE(entry.elements[1].is_nil()) << group << ": pending entry " << entry.elements[0].str
                                                 << " was trimmed";
        seen->push_back(std::stoi(entry.elements[1].elements[1].str));
        ack.push_back(entry.elements[0].str);
      }
      if (ack.size() > 3) {
        auto acked = client->Execute(ack);
        ASSERT_TRUE(acked.ok()) << acked.status();
        ASSERT_EQ(acked->integer, static_cast<int64_t>(ack.size() - 3));
      }
      // New entries: pending until the next round.
      auto fresh = client->Execute({"XREADGROUP", "GROUP", group, "c", "COUNT", std::to_string(count), "BLOCK",
                                    "10", "STREAMS", stream, ">"});
      ASSERT_TRUE(fresh.ok()) << fresh.status();
    }
  };
  std::vector<int> batcher_seen, audit_seen;
  std::thread batcher([&] { consume("batcher", 37, &batcher_seen); });
  std::thread audit([&] { consume("audit", 11, &audit_seen); });
  std::thread trimmer([&] {
    auto client = Connect();
    while (!consumed_all) {
      auto stats = TrimConsumed(*client, stream);
      ASSERT_TRUE(stats.ok()) << stats.status();
      trimmed += stats->trimmed;
      ++passes;
    }
  });
  producer.join();
  batcher.join();
  audit.join();
  consumed_all = true;
  trimmer.join();

  for (const auto* seen : {&batcher_seen, &audit_seen}) {
    ASSERT_EQ(seen->size(), static_cast<size_t>(kEntries));
    for (int i = 0; i < kEntries; ++i) ASSERT_EQ((*seen)[i], i) << "entry " << i << " lost or read twice";
  }
  EXPECT_GT(trimmed.load(), 0);
  EXPECT_GT(passes.load(), 10);
  // Everything was read and acked: a last pass leaves the stream empty.
  auto stats = TrimConsumed(*client_, stream);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(trimmed.load() + stats->trimmed, kEntries);
  EXPECT_EQ(stats->length, 0);
}

}  // namespace
}  // namespace herald::retention
