// The feed's watermark layout (feed/feed_layout.lua) where it is subtle:
// mark-all racing inserts, undoing one item after a mark-all, archived items
// across watermark moves, tenant scopes. After every step the derived counts
// must equal what the filtered pages list, in the whole feed and per tenant.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/ids.h"
#include "core/keys.h"
#include "feed/feed_store.h"
#include "gtest/gtest.h"
#include "tests/support/redis_fixture.h"

namespace herald {
namespace {

constexpr char kUser[] = "lena";

class FeedLayoutTest : public testing::RedisClientTest {
 protected:
  static feed::NewItem Item(const std::string& id, const std::string& tenant = "") {
    feed::NewItem item;
    item.item.set_id(id);
    item.item.set_workflow("bell");
    item.item.set_tenant(tenant);
    item.recipient = kUser;
    item.channel = "in_app_feed";
    item.inserted_at_us = 1000;
    item.workflow_run_id = "run-" + id;
    return item;
  }

  void Insert(const std::vector<feed::NewItem>& items) { Run(feed::InsertManyCommand(keys_, items)); }

  v1::MarkFeedItemsResponse Mark(v1::FeedAction action, const std::vector<std::string>& ids, bool all = false,
                                 const std::string& tenant = "") {
    v1::MarkFeedItemsRequest request;
    request.set_user_id(kUser);
    request.set_action(action);
    request.set_all(all);
    request.set_tenant(tenant);
    for (const std::string& id : ids) request.add_ids(id);
    auto command = feed::MarkCommand(keys_, request, 5000);
    EXPECT_TRUE(command.ok()) << command.status();
    auto reply = feed::ParseMarkReply(Run(*command));
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? *reply : v1::MarkFeedItemsResponse();
  }

  // Every item of a filter (all pages), and the counts.
  std::vector<v1::FeedItem> List(v1::FeedStatusFilter filter, const std::string& tenant = "",
                                 v1::FeedMetadata* metadata = nullptr) {
    std::vector<v1::FeedItem> items;
    v1::ListFeedRequest request;
    request.set_user_id(kUser);
    request.set_status(filter);
    request.set_tenant(tenant);
    request.set_page_size(3);  // several pages: cursors cross the watermarks
    while (true) {
      auto command = feed::ListCommand(keys_, request);
      EXPECT_TRUE(command.ok());
      auto page = feed::ParseListReply(request, Run(*command));
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      if (metadata != nullptr) *metadata = page->metadata();
      for (const auto& item : page->items()) items.push_back(item);
      if (page->next_cursor().empty()) break;
      request.set_after(page->next_cursor());
    }
    return items;
  }

  std::vector<std::string> Ids(v1::FeedStatusFilter filter, const std::string& tenant = "") {
    std::vector<std::string> ids;
    for (const auto& item : List(filter, tenant)) ids.push_back(item.id());
    return ids;
  }

  // Counts agree with the pages and with each item's own state.
  void ExpectConsistent(const std::string& tenant = "") {
    SCOPED_TRACE(tenant.empty() ? "whole feed" : "tenant " + tenant);
    v1::FeedMetadata counts;
    std::vector<v1::FeedItem> active = List(v1::FEED_STATUS_FILTER_UNSPECIFIED, tenant, &counts);
    EXPECT_EQ(counts.total_count(), static_cast<int64_t>(active.size()));
    int64_t unseen = 0, unread = 0;
    for (const auto& item : active) {
      EXPECT_EQ(item.archived_at_ms(), 0) << item.id();
      unseen += item.seen_at_ms() == 0;
      unread += item.read_at_ms() == 0;
    }
    EXPECT_EQ(counts.unseen_count(), unseen);
    EXPECT_EQ(counts.unread_count(), unread);
    EXPECT_EQ(static_cast<int64_t>(List(v1::FEED_STATUS_FILTER_UNSEEN, tenant).size()), unseen);
    EXPECT_EQ(static_cast<int64_t>(List(v1::FEED_STATUS_FILTER_UNREAD, tenant).size()), unread);
    EXPECT_EQ(static_cast<int64_t>(List(v1::FEED_STATUS_FILTER_READ, tenant).size()), counts.total_count() - unread);
    for (const auto& item : List(v1::FEED_STATUS_FILTER_ARCHIVED, tenant)) EXPECT_NE(item.archived_at_ms(), 0);
  }

  const Keys keys_{PartitionOf(kUser, 4)};
};

using V = std::vector<std::string>;

TEST_F(FeedLayoutTest, ItemsArrivingAfterAMarkAllStayUnread) {
  Insert({Item("a"), Item("b"), Item("c")});
  EXPECT_EQ(Mark(v1::FEED_ACTION_READ, {}, /*all=*/true).changed(), 3);
  Insert({Item("d"), Item("e")});
  v1::FeedMetadata counts;
  List(v1::FEED_STATUS_FILTER_UNSPECIFIED, "", &counts);
  EXPECT_EQ(counts.unread_count(), 2);
  EXPECT_EQ(counts.unseen_count(), 2);
  EXPECT_EQ(Ids(v1::FEED_STATUS_FILTER_UNREAD), (V{"e", "d"}));
  ExpectConsistent();
}

TEST_F(FeedLayoutTest, UndoingOneItemAfterAMarkAllAndMarkingAllAgain) {
  Insert({Item("a"), Item("b", "acme"), Item("c"), Item("d", "acme"), Item("e")});
  Mark(v1::FEED_ACTION_READ, {}, /*all=*/true);
  auto marked = Mark(v1::FEED_ACTION_UNREAD, {"b"});
  EXPECT_EQ(marked.changed(), 1);
  EXPECT_EQ(marked.metadata().unread_count(), 1);
  EXPECT_EQ(marked.metadata().unseen_count(), 0) << "unread keeps it seen";
  EXPECT_EQ(Ids(v1::FEED_STATUS_FILTER_UNREAD), V{"b"});
  EXPECT_EQ(Ids(v1::FEED_STATUS_FILTER_UNREAD, "acme"), V{"b"});
  ExpectConsistent();
  ExpectConsistent("acme");
  marked = Mark(v1::FEED_ACTION_UNSEEN, {"d"});
  EXPECT_EQ(marked.metadata().unseen_count(), 1);
  EXPECT_EQ(Ids(v1::FEED_STATUS_FILTER_UNSEEN), V{"d"});
  ExpectConsistent();
  ExpectConsistent("acme");
  // Marking it again by id, then all again: no item counted twice.
  EXPECT_EQ(Mark(v1::FEED_ACTION_READ, {"b"}).metadata().unread_count(), 0);
  marked = Mark(v1::FEED_ACTION_SEEN, {}, /*all=*/true);
  EXPECT_EQ(marked.changed(), 1);
  EXPECT_EQ(marked.metadata().unseen_count(), 0);
  // And everything back.
  marked = Mark(v1::FEED_ACTION_UNREAD, {}, /*all=*/true);
  EXPECT_EQ(marked.changed(), 5);
  EXPECT_EQ(marked.metadata().unread_count(), 5);
  ExpectConsistent();
  ExpectConsistent("acme");
  // Mark-all in a tenant scope marks only that tenant's items.
  marked = Mark(v1::FEED_ACTION_READ, {}, /*all=*/true, "acme");
  EXPECT_EQ(marked.changed(), 2);
  EXPECT_EQ(marked.metadata().unread_count(), 0);
  EXPECT_EQ(Ids(v1::FEED_STATUS_FILTER_UNREAD), (V{"e", "c", "a"}));
  ExpectConsistent();
  ExpectConsistent("acme");
}

TEST_F(FeedLayoutTest, ArchivedItemsKeepTheirOwnStateAcrossWatermarkMoves) {
  Insert({Item("a", "acme"), Item("b"), Item("c", "acme"), Item("d")});
  Mark(v1::FEED_ACTION_SEEN, {}, /*all=*/true);
  Mark(v1::FEED_ACTION_ARCHIVED, {"a"});       // seen (by the watermark), unread
  Mark(v1::FEED_ACTION_ARCHIVED, {"d"});
  Mark(v1::FEED_ACTION_UNSEEN, {"d"});         // unseen while archived
  auto marked = Mark(v1::FEED_ACTION_UNSEEN, {}, /*all=*/true);
  EXPECT_EQ(marked.changed(), 2) << "b and c; archived items are not marked";
  EXPECT_EQ(marked.metadata().unseen_count(), 2);
  EXPECT_EQ(marked.metadata().total_count(), 2);
  ExpectConsistent();
  ExpectConsistent("acme");
  marked = Mark(v1::FEED_ACTION_READ, {}, /*all=*/true);
  EXPECT_EQ(marked.metadata().unread_count(), 0);
  // Back from the archive with the state they had there.
  marked = Mark(v1::FEED_ACTION_UNARCHIVED, {"a", "d"});
  EXPECT_EQ(marked.metadata().total_count(), 4);
  EXPECT_EQ(marked.metadata().unread_count(), 2) << "a and d were archived unread";
  EXPECT_EQ(marked.metadata().unseen_count(), 1) << "d was archived unseen, a seen";
  EXPECT_EQ(Ids(v1::FEED_STATUS_FILTER_UNSEEN), V{"d"});
  EXPECT_EQ(Ids(v1::FEED_STATUS_FILTER_UNREAD, "acme"), V{"a"});
  ExpectConsistent();
  ExpectConsistent("acme");
  // Archiving everything, then nothing: counts follow.
  EXPECT_EQ(Mark(v1::FEED_ACTION_ARCHIVED, {}, /*all=*/true).metadata().total_count(), 0);
  ExpectConsistent();
  marked = Mark(v1::FEED_ACTION_UNARCHIVED, {}, /*all=*/true);
  EXPECT_EQ(marked.metadata().total_count(), 4);
  ExpectConsistent();
  ExpectConsistent("acme");
}

TEST_F(FeedLayoutTest, MarkAllRacingInsertsNeverLosesAnUnreadItem) {
  constexpr int kRounds = 200;
  std::atomic<bool> stop{false};
  std::thread inserter([&] {
    auto client = Connect();
    for (int i = 0; i < kRounds; ++i) {
      auto reply = client->Execute(feed::InsertManyCommand(keys_, {Item(absl::StrCat("r", i), i % 3 ? "" : "acme")}));
      EXPECT_TRUE(reply.ok()) << reply.status();
    }
    stop = true;
  });
  // Mark-all repeatedly while items arrive; each reply's counts are exact
  // at that moment, so what arrives later is never counted read.
  int marks = 0;
  while (!stop) {
    v1::MarkFeedItemsResponse marked = Mark(marks % 2 ? v1::FEED_ACTION_READ : v1::FEED_ACTION_SEEN, {}, true);
    EXPECT_EQ(marked.metadata().unseen_count(), 0);
    if (marks % 2) {
      EXPECT_EQ(marked.metadata().unread_count(), 0);
    }
    ++marks;
  }
  inserter.join();
  EXPECT_GT(marks, 0);
  // The last mark-all saw some prefix; whatever came after is unread.
  Insert({Item("late-1"), Item("late-2", "acme")});
  v1::FeedMetadata counts;
  std::vector<v1::FeedItem> items = List(v1::FEED_STATUS_FILTER_UNSPECIFIED, "", &counts);
  EXPECT_EQ(counts.total_count(), kRounds + 2);
  EXPECT_GE(counts.unread_count(), 2);
  EXPECT_EQ(items[0].read_at_ms(), 0);
  EXPECT_EQ(items[1].read_at_ms(), 0);
  ExpectConsistent();
  ExpectConsistent("acme");
  // Newest first, strictly: the sequence keeps insertion order.
  for (size_t i = 1; i < items.size(); ++i) EXPECT_GE(items[i - 1].inserted_at_ms(), items[i].inserted_at_ms());
}

}  // namespace
}  // namespace herald
