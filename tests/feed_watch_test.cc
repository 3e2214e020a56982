// The feed watcher over a real Redis (feed/redis_feed_watcher.h): inserts
// and marks reach the subscriptions of their (user, feed, tenant) with the
// counts, a cursor resumes exactly after itself (no gap, no duplicate), a
// cursor whose changes were trimmed away is OUT_OF_RANGE, and mark-all
// racing inserts never loses the unread count of the items that came after
// it (the watermark layout, feed/feed_layout.lua).
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/ids.h"
#include "core/keys.h"
#include "feed/feed_changes.h"
#include "feed/feed_store.h"
#include "feed/redis_feed_watcher.h"
#include "gtest/gtest.h"
#include "tests/support/eventually.h"
#include "tests/support/redis_fixture.h"

namespace herald {
namespace {

constexpr int kPartitions = 4;

// Collects a subscription's events; thread-safe.
class Collector {
 public:
  feed::FeedEventSink Sink() {
    return [this](const v1::FeedEvent& event) {
      absl::MutexLock lock(&mu_);
      events_.push_back(event);
      return true;
    };
  }
  std::vector<v1::FeedEvent> Events() {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  size_t Size() {
    absl::MutexLock lock(&mu_);
    return events_.size();
  }
  // Waits for `n` events (bounded).
  bool WaitFor(size_t n) { return testing::Eventually([&] { return Size() >= n; }, absl::Seconds(10)); }

 private:
  absl::Mutex mu_;
  std::vector<v1::FeedEvent> events_ ABSL_GUARDED_BY(mu_);
};

class FeedWatchTest : public testing::RedisClientTest {
 protected:
  void SetUp() override {
    RedisClientTest::SetUp();
    StartWatcher();
  }

  void StartWatcher() {
    watcher_.reset();
    feed::RedisFeedWatcherOptions options;
    options.partitions = kPartitions;
    options.block = absl::Milliseconds(50);
    auto watcher = feed::RedisFeedWatcher::Start(endpoint(), options);
    ASSERT_TRUE(watcher.ok()) << watcher.status();
    watcher_ = std::move(*watcher);
  }

  static feed::NewItem Item(const std::string& user, const std::string& id, const std::string& feed = "",
                            const std::string& tenant = "") {
    feed::NewItem item;
    item.item.set_id(id);
    item.item.set_workflow("bell");
    item.item.set_tenant(tenant);
    v1::FeedBlock* block = item.item.add_blocks();
    block->set_name("body");
    block->set_type("text");
    block->set_rendered("hello " + id);
    item.recipient = user;
    item.channel = "in_app_feed";
    item.inserted_at_us = absl::ToUnixMicros(absl::Now());
    item.accepted_at_us = item.inserted_at_us;
    item.workflow_run_id = "run-" + id;
    item.feed = feed;
    return item;
  }

  void Insert(const std::vector<feed::NewItem>& items, int64_t changes_max_len = feed::kDefaultFeedChangesMaxLen) {
    feed::InsertOptions options;
    options.changes_max_len = changes_max_len;
    Run(feed::InsertManyCommand(Keys(PartitionOf(items[0].recipient, kPartitions)), items, options));
  }

  v1::MarkFeedItemsResponse Mark(const std::string& user, v1::FeedAction action, std::vector<std::string> ids,
                                 const std::string& feed = "") {
    v1::MarkFeedItemsRequest request;
    request.set_user_id(user);
    request.set_action(action);
    request.set_feed(feed);
    if (ids.empty()) request.set_all(true);
    for (const std::string& id : ids) request.add_ids(id);
    auto command = feed::MarkCommand(Keys(PartitionOf(user, kPartitions)), request, absl::ToUnixMillis(absl::Now()));
    EXPECT_TRUE(command.ok()) << command.status();
    auto reply = feed::ParseMarkReply(Run(*command));
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? *reply : v1::MarkFeedItemsResponse();
  }

  std::unique_ptr<feed::WatchSubscription> Watch(const feed::WatchTarget& target, Collector& collector,
                                                 const std::string& after = "") {
    auto sub = watcher_->Watch(target, after, collector.Sink());
    EXPECT_TRUE(sub.ok()) << sub.status();
    return sub.ok() ? std::move(*sub) : nullptr;
  }

  std::unique_ptr<feed::RedisFeedWatcher> watcher_;
};

TEST_F(FeedWatchTest, InsertsAndMarksArriveWithTheCountsAfterThem) {
  // Written before the watcher starts: it is in the counts, not an event.
  Insert({Item("ana", "old")});
  StartWatcher();
  Collector events;
  auto sub = Watch({"ana", "", ""}, events);
  // From now: the first event carries only the counts and a cursor.
  ASSERT_TRUE(events.WaitFor(1));
  EXPECT_EQ(events.Events()[0].change_case(), v1::FeedEvent::CHANGE_NOT_SET);
  EXPECT_EQ(events.Events()[0].metadata().unread_count(), 1);
  EXPECT_FALSE(events.Events()[0].cursor().empty());

  Insert({Item("ana", "n1"), Item("bo", "x1"), Item("ana", "n2")});
  ASSERT_TRUE(events.WaitFor(3));
  std::vector<v1::FeedEvent> got = events.Events();
  ASSERT_EQ(got[1].change_case(), v1::FeedEvent::kItemInserted);
  EXPECT_EQ(got[1].item_inserted().id(), "n1");
  EXPECT_EQ(got[1].item_inserted().blocks(0).rendered(), "hello n1");
  EXPECT_EQ(got[2].item_inserted().id(), "n2");
  EXPECT_EQ(got[2].metadata().unread_count(), 3);
  EXPECT_NE(got[1].cursor(), got[2].cursor());

  Mark("ana", v1::FEED_ACTION_READ, {"n1"});
  ASSERT_TRUE(events.WaitFor(4));
  got = events.Events();
  ASSERT_EQ(got[3].change_case(), v1::FeedEvent::kItemsMarked);
  EXPECT_EQ(got[3].items_marked().action(), v1::FEED_ACTION_READ);
  EXPECT_EQ(std::vector<std::string>(got[3].items_marked().ids().begin(), got[3].items_marked().ids().end()),
            std::vector<std::string>{"n1"});
  EXPECT_EQ(got[3].metadata().unread_count(), 2);

  Mark("ana", v1::FEED_ACTION_READ, {});
  ASSERT_TRUE(events.WaitFor(5));
  got = events.Events();
  EXPECT_TRUE(got[4].items_marked().all());
  EXPECT_EQ(got[4].metadata().unread_count(), 0);
  // A mark that changes nothing publishes nothing.
  Mark("ana", v1::FEED_ACTION_READ, {});
  Insert({Item("ana", "n3")});
  ASSERT_TRUE(events.WaitFor(6));
  EXPECT_EQ(events.Events()[5].item_inserted().id(), "n3");
}

TEST_F(FeedWatchTest, SubscriptionsGetOnlyTheirUserFeedAndTenant) {
  Collector main_all, news_all, news_acme, other_user;
  auto a = Watch({"cy", "", ""}, main_all);
  auto b = Watch({"cy", "news", ""}, news_all);
  auto c = Watch({"cy", "news", "acme"}, news_acme);
  auto d = Watch({"dee", "news", ""}, other_user);
  for (Collector* collector : {&main_all, &news_all, &news_acme, &other_user}) ASSERT_TRUE(collector->WaitFor(1));
  Insert({Item("cy", "m1"), Item("cy", "n1", "news"), Item("cy", "n2", "news", "acme"), Item("cy", "n3", "main")});
  Insert({Item("dee", "d1", "news")});
  auto ids = [](Collector& collector) {
    std::vector<std::string> out;
    for (const auto& event : collector.Events()) {
      if (event.has_item_inserted()) out.push_back(event.item_inserted().id());
    }
    return out;
  };
  ASSERT_TRUE(main_all.WaitFor(3));
  ASSERT_TRUE(news_all.WaitFor(3));
  ASSERT_TRUE(news_acme.WaitFor(2));
  ASSERT_TRUE(other_user.WaitFor(2));
  // A later change to each shows nothing else was coming for them.
  Mark("cy", v1::FEED_ACTION_SEEN, {}, "news");
  ASSERT_TRUE(news_acme.WaitFor(3));
  EXPECT_EQ(ids(main_all), (std::vector<std::string>{"m1", "n3"}));
  EXPECT_EQ(ids(news_all), (std::vector<std::string>{"n1", "n2"}));
  EXPECT_EQ(ids(news_acme), std::vector<std::string>{"n2"});
  EXPECT_EQ(ids(other_user), std::vector<std::string>{"d1"});
  // The tenant scope's counts are its own.
  EXPECT_EQ(news_acme.Events()[1].metadata().total_count(), 1);
  EXPECT_EQ(news_all.Events()[2].metadata().total_count(), 2);
  EXPECT_EQ(main_all.Size(), 3u);
}

TEST_F(FeedWatchTest, ResumingAfterACursorDeliversExactlyTheChangesAfterIt) {
  Collector first;
  auto sub = Watch({"eve", "", ""}, first);
  ASSERT_TRUE(first.WaitFor(1));
  Insert({Item("eve", "a1"), Item("eve", "a2")});
  ASSERT_TRUE(first.WaitFor(3));
  // Cursor in the middle of one insert call's entry: resume gives a2.
  const std::string middle = first.Events()[1].cursor();
  const std::string last = first.Events()[2].cursor();
  sub.reset();  // disconnect
  Insert({Item("eve", "b1")});
  Insert({Item("eve", "b2"), Item("fay", "f1"), Item("eve", "b3")});
  Collector resumed;
  auto again = Watch({"eve", "", ""}, resumed, last);
  ASSERT_TRUE(resumed.WaitFor(3));
  Insert({Item("eve", "c1")});  // live after the replay, in order
  ASSERT_TRUE(resumed.WaitFor(4));
  std::vector<std::string> ids;
  for (const auto& event : resumed.Events()) ids.push_back(event.item_inserted().id());
  EXPECT_EQ(ids, (std::vector<std::string>{"b1", "b2", "b3", "c1"}));
  EXPECT_EQ(resumed.Events()[2].metadata().total_count(), 5);

  Collector from_middle;
  auto third = Watch({"eve", "", ""}, from_middle, middle);
  ASSERT_TRUE(from_middle.WaitFor(5));
  ids.clear();
  for (const auto& event : from_middle.Events()) ids.push_back(event.item_inserted().id());
  EXPECT_EQ(ids, (std::vector<std::string>{"a2", "b1", "b2", "b3", "c1"}));
  // No duplicate shows up later either.
  Insert({Item("eve", "d1")});
  ASSERT_TRUE(from_middle.WaitFor(6));
  EXPECT_EQ(from_middle.Events()[5].item_inserted().id(), "d1");
  EXPECT_EQ(resumed.Events().size(), 5u);
}

TEST_F(FeedWatchTest, ResumeRacingLiveChangesHasNoGapAndNoDuplicate) {
  // Inserts keep coming while subscriptions resume from earlier cursors.
  Collector seed;
  auto sub = Watch({"gus", "", ""}, seed);
  ASSERT_TRUE(seed.WaitFor(1));
  std::atomic<bool> done{false};
  std::atomic<int> inserted{0};
  std::thread writer([&] {
    for (int i = 0; i < 300 && !done; ++i) {
      Insert({Item("gus", absl::StrCat("g", i))});
      inserted = i + 1;
    }
  });
  std::vector<std::unique_ptr<Collector>> collectors;
  std::vector<std::unique_ptr<feed::WatchSubscription>> subs;
  for (int round = 0; round < 10; ++round) {
    ASSERT_TRUE(testing::Eventually([&] { return seed.Size() > static_cast<size_t>(round * 20); }));
    std::vector<v1::FeedEvent> seen = seed.Events();
    collectors.push_back(std::make_unique<Collector>());
    auto resumed = watcher_->Watch({"gus", "", ""}, seen.back().cursor(), collectors.back()->Sink());
    ASSERT_TRUE(resumed.ok()) << resumed.status();
    subs.push_back(std::move(*resumed));
  }
  writer.join();
  // One more after every resume: each subscription has something to end on.
  Insert({Item("gus", "end")});
  const size_t total = static_cast<size_t>(inserted.load()) + 1;
  ASSERT_TRUE(seed.WaitFor(total + 1));
  std::vector<std::string> all;
  for (const auto& event : seed.Events()) {
    if (event.has_item_inserted()) all.push_back(event.item_inserted().id());
  }
  ASSERT_EQ(all.size(), total);
  for (size_t r = 0; r < collectors.size(); ++r) {
    ASSERT_TRUE(testing::Eventually([&] {
      auto events = collectors[r]->Events();
      return !events.empty() && events.back().item_inserted().id() == all.back();
    }));
    std::vector<std::string> got;
    for (const auto& event : collectors[r]->Events()) got.push_back(event.item_inserted().id());
    // Exactly a suffix of everything, in order.
    ASSERT_LE(got.size(), all.size());
    EXPECT_EQ(got, std::vector<std::string>(all.end() - got.size(), all.end())) << "round " << r;
  }
}

TEST_F(FeedWatchTest, ACursorWhoseChangesAgedOutIsOutOfRangeAndABadOneInvalid) {
  Collector first;
  auto sub = Watch({"hal", "", ""}, first);
  ASSERT_TRUE(first.WaitFor(1));
  Insert({Item("hal", "h0")});
  ASSERT_TRUE(first.WaitFor(2));
  const std::string old = first.Events()[1].cursor();
  sub.reset();
  // Many changes later, the stream kept about 10 of them (MAXLEN ~ keeps
  // whole nodes: trim exactly to make the test certain).
  for (int i = 0; i < 300; ++i) Insert({Item("hal", absl::StrCat("h", i + 1))}, 10);
  Run({"XTRIM", Keys(PartitionOf("hal", kPartitions)).FeedChanges(), "MAXLEN", "10"});
  Collector late;
  auto refused = watcher_->Watch({"hal", "", ""}, old, late.Sink());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kOutOfRange) << refused.status();
  EXPECT_TRUE(absl::StartsWith(refused.status().message(), "after: ")) << refused.status();
  auto bad = watcher_->Watch({"hal", "", ""}, "not-a-cursor", late.Sink());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(bad.status().message(), "after: ")) << bad.status();
  auto bad_feed = watcher_->Watch({"hal", "no feed!", ""}, "", late.Sink());
  EXPECT_TRUE(absl::StartsWith(bad_feed.status().message(), "feed: ")) << bad_feed.status();
  EXPECT_EQ(late.Size(), 0u);
}

TEST_F(FeedWatchTest, UnsubscribingWhileEventsFlowIsPromptAndFinal) {
  std::atomic<int> calls{0};
  std::atomic<bool> destroyed{false};
  std::atomic<bool> called_after{false};
  auto sub = watcher_->Watch({"ivy", "", ""}, "", [&](const v1::FeedEvent&) {
    if (destroyed) called_after = true;
    ++calls;
    absl::SleepFor(absl::Milliseconds(1));  // a slow consumer, so the destructor meets a running sink
    return true;
  });
  ASSERT_TRUE(sub.ok());
  std::vector<feed::NewItem> items;
  for (int i = 0; i < 50; ++i) items.push_back(Item("ivy", absl::StrCat("i", i)));
  Insert(items);
  ASSERT_TRUE(testing::Eventually([&] { return calls > 3; }));
  Collector witness;  // sees "late" once the watcher dispatched it
  auto other = Watch({"ivy", "", ""}, witness);
  const absl::Time start = absl::Now();
  sub->reset();
  destroyed = true;
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  Insert({Item("ivy", "late")});
  ASSERT_TRUE(testing::Eventually([&] {
    for (const auto& event : witness.Events()) {
      if (event.item_inserted().id() == "late") return true;
    }
    return false;
  }));
  EXPECT_FALSE(called_after);
  EXPECT_LT(calls.load(), 51);
}

// Mark-all read racing inserts: the count never loses the items inserted
// after the mark took effect. Each round: a thread inserts while another
// marks all read; afterwards unread == the items above the read watermark.
TEST_F(FeedWatchTest, MarkAllRacingInsertsKeepsTheCountOfLaterItems) {
  const std::string user = "jon";
  const Keys keys(PartitionOf(user, kPartitions));
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  int rounds = 0;
  for (; rounds < 300 && absl::Now() < deadline; ++rounds) {
    auto inserter_client = Connect();
    std::thread inserter([&, round = rounds] {
      for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(inserter_client
                        ->Execute(feed::InsertManyCommand(keys, {Item(user, absl::StrCat("r", round, "-", i))}))
                        .ok());
      }
    });
    Mark(user, v1::FEED_ACTION_READ, {});
    inserter.join();
    // The watermark is the newest seq the mark saw; every item above it
    // came after the mark and must count as unread.
    const std::string watermark = Run({"HGET", keys.FeedSet(user, "meta"), "rw"}).str;
    const int64_t above = Run({"ZCOUNT", keys.FeedSet(user, "index"), "(" + watermark, "+inf"}).integer;
    v1::ListFeedRequest request;
    request.set_user_id(user);
    auto page = feed::ParseListReply(request, Run(*feed::ListCommand(keys, request)));
    ASSERT_TRUE(page.ok());
    ASSERT_EQ(page->metadata().unread_count(), above) << "round " << rounds;
    v1::ListFeedRequest unread = request;
    unread.set_status(v1::FEED_STATUS_FILTER_UNREAD);
    unread.set_page_size(100);
    auto unread_page = feed::ParseListReply(unread, Run(*feed::ListCommand(keys, unread)));
    ASSERT_TRUE(unread_page.ok());
    ASSERT_EQ(unread_page->items_size(), above) << "round " << rounds;
  }
  EXPECT_GE(rounds, 50);
}

}  // namespace
}  // namespace herald
