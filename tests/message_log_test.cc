// The message log where a feed insert logs its items once per call (one
// entry listing them) rather than once per item: ListMessages must walk
// such entries item by item, newest first, with pages and scan budgets that
// stop inside an entry, never repeating or skipping a message, and still
// read the entries written before (one per feed item, 'm' id 'u' user) and
// those of other messages ('m' id), mixed in one log.
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/ids.h"
#include "core/keys.h"
#include "feed/feed_store.h"
#include "gtest/gtest.h"
#include "messages/message_list.h"
#include "messages/message_store.h"
#include "tests/support/redis_fixture.h"

namespace herald {
namespace {

constexpr int kPartitions = 4;

class MessageLogTest : public testing::RedisClientTest {
 protected:
  // `count` user ids of partition `p`.
  static std::vector<std::string> UsersOf(int p, int count) {
    std::vector<std::string> users;
    for (int i = 0; static_cast<int>(users.size()) < count; ++i) {
      std::string user = absl::StrCat("user-", i);
      if (PartitionOf(user, kPartitions) == p) users.push_back(user);
    }
    return users;
  }

  static feed::NewItem Item(const std::string& id, const std::string& user, int64_t at_us) {
    feed::NewItem item;
    item.item.set_id(id);
    item.item.set_workflow(id.substr(0, 1) == "t" ? "tagged" : "bell");
    item.recipient = user;
    item.channel = "in_app_feed";
    item.inserted_at_us = at_us;
    item.workflow_run_id = "run-" + id;
    return item;
  }

  // Inserts the items (all of one partition) in one call.
  void Insert(const std::vector<feed::NewItem>& items) {
    Run(feed::InsertManyCommand(Keys(PartitionOf(items[0].recipient, kPartitions)), items));
  }

  void Record(const std::string& id, const std::string& user, int64_t at_us) {
    messages::NotDelivered record;
    record.message_id = id;
    record.recipient = user;
    record.workflow = "bell";
    record.channel = "email";
    record.channel_type = "email";
    record.status = "not_sent";
    record.reason = "preference";
    record.at_us = at_us;
    record.workflow_run_id = "run-" + id;
    Run(messages::RecordNotDeliveredCommand(Keys(PartitionOf(user, kPartitions)), record));
  }

  // Every message, walked with pages of `page_size` and a scan budget of
  // `budget` messages per partition; `calls` counts the pages.
  std::vector<std::string> Walk(v1::ListMessagesRequest request, int page_size, int budget, int* calls = nullptr) {
    request.set_page_size(page_size);
    std::vector<std::string> ids;
    int pages = 0;
    do {
      auto query = messages::ParseListRequest(request, kPartitions);
      EXPECT_TRUE(query.ok()) << query.status();
      if (!query.ok()) break;
      auto page = messages::MergeListReplies(*query, client_->Pipeline(messages::ListCommands(*query, budget)));
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      EXPECT_LE(page->messages_size(), page_size);
      for (const auto& m : page->messages()) ids.push_back(m.id());
      request.set_after(page->next_cursor());
    } while (!request.after().empty() && ++pages < 10'000);
    if (calls != nullptr) *calls = pages + 1;
    return ids;
  }
};

TEST_F(MessageLogTest, OneEntryPerInsertCallListsItsItemsNewestFirst) {
  const std::vector<std::string> users = UsersOf(0, 3);
  const Keys keys(0);
  Insert({Item("a1", users[0], 1'000), Item("a2", users[1], 1'000), Item("a3", users[2], 1'000),
          Item("a4", users[0], 1'000)});
  Insert({Item("b1", users[1], 2'000), Item("b2", users[2], 2'000)});
  // One entry per call: the first sequence, then the users in order.
  EXPECT_EQ(Run({"XLEN", keys.MessageLog()}).integer, 2);
  redis::Reply entries = Run({"XRANGE", keys.MessageLog(), "-", "+"});
  ASSERT_EQ(entries.elements.size(), 2u);
  const std::vector<redis::Reply>& fields = entries.elements[0].elements[1].elements;
  ASSERT_EQ(fields.size(), 4u);
  EXPECT_EQ(fields[0].str, "s");
  EXPECT_EQ(fields[2].str, "u");
  EXPECT_EQ(fields[3].str, absl::StrCat(users[0], "\n", users[1], "\n", users[2], "\n", users[0]));

  const std::vector<std::string> expected = {"b2", "b1", "a4", "a3", "a2", "a1"};
  EXPECT_EQ(Walk(v1::ListMessagesRequest(), 100, 1000), expected);
  for (int page_size : {1, 2, 3, 5}) {
    for (int budget : {1, 2, 3, 1000}) {
      EXPECT_EQ(Walk(v1::ListMessagesRequest(), page_size, budget), expected)
          << "page size " << page_size << ", budget " << budget;
    }
  }
  // Filters see each item with its own fields.
  v1::ListMessagesRequest mine;
  mine.set_recipient(users[0]);
  EXPECT_EQ(Walk(mine, 1, 1), (std::vector<std::string>{"a4", "a1"}));
  v1::ListMessagesRequest run;
  run.set_workflow_run_id("run-a2");
  EXPECT_EQ(Walk(run, 1, 2), std::vector<std::string>{"a2"});
  // A full page that ends on the oldest item says there is no next page.
  int calls = 0;
  EXPECT_EQ(Walk(v1::ListMessagesRequest(), 3, 1000, &calls), expected);
  EXPECT_EQ(calls, 2);
}

TEST_F(MessageLogTest, OlderPerItemEntriesAndOtherMessagesReadAlongside) {
  const std::vector<std::string> users = UsersOf(1, 2);
  const Keys keys(1);
  // Items logged as a version before this one did: one entry per item.
  Insert({Item("old1", users[0], 1'000), Item("old2", users[1], 1'000)});
  Run({"DEL", keys.MessageLog()});
  Run({"XADD", keys.MessageLog(), "*", "m", "old1", "u", users[0]});
  Run({"XADD", keys.MessageLog(), "*", "m", "old2", "u", users[1]});
  Record("rec1", users[0], 1'500);
  Insert({Item("new1", users[1], 2'000), Item("new2", users[0], 2'000), Item("new3", users[1], 2'000)});
  Record("rec2", users[1], 2'500);
  Insert({Item("new4", users[0], 3'000)});
  const std::vector<std::string> expected = {"new4", "rec2", "new3", "new2", "new1", "rec1", "old2", "old1"};
  for (int page_size : {1, 2, 3, 4, 100}) {
    for (int budget : {1, 2, 5, 1000}) {
      EXPECT_EQ(Walk(v1::ListMessagesRequest(), page_size, budget), expected)
          << "page size " << page_size << ", budget " << budget;
    }
  }
  v1::ListMessagesRequest sent;
  sent.set_status("not_sent");
  EXPECT_EQ(Walk(sent, 1, 1), (std::vector<std::string>{"rec2", "rec1"}));
  v1::ListMessagesRequest feed;
  feed.set_channel_type("in_app_feed");
  feed.set_inserted_after_us(2'000);
  EXPECT_EQ(Walk(feed, 2, 3), (std::vector<std::string>{"new4", "new3", "new2", "new1"}));
}

TEST_F(MessageLogTest, ItemsTrimmedFromTheirFeedAreSkipped) {
  const std::vector<std::string> users = UsersOf(2, 2);
  const Keys keys(2);
  feed::InsertOptions cap;
  cap.max_items = 2;
  // users[0] gets three items in one call: the oldest is trimmed at once.
  Run(feed::InsertManyCommand(keys, {Item("x1", users[0], 1'000), Item("y1", users[1], 1'000),
                                     Item("x2", users[0], 1'000), Item("x3", users[0], 1'000)},
                              cap));
  EXPECT_EQ(Run({"HEXISTS", keys.FeedSet(users[0], "items"), "x1"}).integer, 0);
  const std::vector<std::string> expected = {"x3", "x2", "y1"};
  for (int page_size : {1, 2, 100}) {
    for (int budget : {1, 3, 1000}) {
      EXPECT_EQ(Walk(v1::ListMessagesRequest(), page_size, budget), expected)
          << "page size " << page_size << ", budget " << budget;
    }
  }
}

TEST_F(MessageLogTest, PagesMergeEntriesOfEveryPartitionWithoutGapOrRepeat) {
  std::vector<std::string> all_ids;
  int64_t at = 1'000;
  for (int round = 0; round < 3; ++round) {
    for (int p = 0; p < kPartitions; ++p) {
      const std::vector<std::string> users = UsersOf(p, 3);
      std::vector<feed::NewItem> items;
      for (int i = 0; i < 2 + p; ++i) {
        items.push_back(Item(absl::StrCat("r", round, "p", p, "i", i), users[i % users.size()], at));
      }
      Insert(items);
      if (round == 1) Record(absl::StrCat("rec", p), users[0], at);
      at += 1'000;
    }
  }
  const std::vector<std::string> all = Walk(v1::ListMessagesRequest(), 100, 1000);
  EXPECT_EQ(all.size(), 3u * (2 + 3 + 4 + 5) + 4);
  const std::set<std::string> unique(all.begin(), all.end());
  EXPECT_EQ(unique.size(), all.size());
  for (int page_size : {1, 3, 7}) {
    for (int budget : {1, 2, 4}) {
      EXPECT_EQ(Walk(v1::ListMessagesRequest(), page_size, budget), all)
          << "page size " << page_size << ", budget " << budget;
    }
  }
  // A cursor that points inside an entry is refused when malformed.
  v1::ListMessagesRequest bad;
  bad.set_after(messages::EncodeListCursor({"1-0:x", "", "", ""}));
  EXPECT_FALSE(messages::ParseListRequest(bad, kPartitions).ok());
}

}  // namespace
}  // namespace herald
