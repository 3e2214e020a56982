// Several in-app feeds per user (feed/feed_layout.lua, "Named feeds"): items
// of two feeds stay apart in every reader (list, counts, marks), messages/
// still finds items of any feed (GetMessage, ListMessages), and the main
// feed reads what was written before named feeds existed, from the same
// keys. A user's deletion, merge and the retention sweep reach every feed.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/ids.h"
#include "core/keys.h"
#include "feed/feed_store.h"
#include "gtest/gtest.h"
#include "messages/message_list.h"
#include "messages/message_store.h"
#include "retention/stream_trimmer.h"
#include "services/api/user_admin.h"
#include "tests/support/redis_fixture.h"

namespace herald {
namespace {

constexpr char kUser[] = "nora";
constexpr int kPartitions = 4;

class NamedFeedsTest : public testing::RedisClientTest {
 protected:
  static feed::NewItem Item(const std::string& id, const std::string& feed, const std::string& tenant = "") {
    feed::NewItem item;
    item.item.set_id(id);
    item.item.set_workflow("bell");
    item.item.set_tenant(tenant);
    item.recipient = kUser;
    item.channel = "in_app_feed";
    item.inserted_at_us = 1'700'000'000'000'000;
    item.accepted_at_us = item.inserted_at_us;
    item.workflow_run_id = "run-" + id;
    item.feed = feed;
    return item;
  }

  v1::ListFeedResponse List(const std::string& feed, v1::FeedStatusFilter filter = v1::FEED_STATUS_FILTER_UNSPECIFIED,
                            const std::string& tenant = "") {
    v1::ListFeedRequest request;
    request.set_user_id(kUser);
    request.set_feed(feed);
    request.set_status(filter);
    request.set_tenant(tenant);
    auto command = feed::ListCommand(keys_, request);
    EXPECT_TRUE(command.ok()) << command.status();
    if (!command.ok()) return {};
    auto page = feed::ParseListReply(request, Run(*command));
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? *page : v1::ListFeedResponse();
  }

  static std::vector<std::string> Ids(const v1::ListFeedResponse& page) {
    std::vector<std::string> ids;
    for (const auto& item : page.items()) ids.push_back(item.id());
    return ids;
  }

  v1::MarkFeedItemsResponse MarkAll(const std::string& feed, v1::FeedAction action) {
    v1::MarkFeedItemsRequest request;
    request.set_user_id(kUser);
    request.set_feed(feed);
    request.set_action(action);
    request.set_all(true);
    auto command = feed::MarkCommand(keys_, request, 5'000);
    EXPECT_TRUE(command.ok()) << command.status();
    auto reply = feed::ParseMarkReply(Run(*command));
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? *reply : v1::MarkFeedItemsResponse();
  }

  const Keys keys_{PartitionOf(kUser, kPartitions)};
};

TEST_F(NamedFeedsTest, ItemsOfTwoFeedsStayApartInListsCountsAndMarks) {
  Run(feed::InsertManyCommand(keys_, {Item("m1", ""), Item("a1", "announcements"), Item("m2", "main", "acme"),
                                      Item("a2", "announcements", "acme"), Item("a3", "announcements")}));
  EXPECT_EQ(Ids(List("")), (std::vector<std::string>{"m2", "m1"}));
  EXPECT_EQ(Ids(List("main")), (std::vector<std::string>{"m2", "m1"}));
  EXPECT_EQ(Ids(List("announcements")), (std::vector<std::string>{"a3", "a2", "a1"}));
  EXPECT_EQ(List("announcements").metadata().unread_count(), 3);
  EXPECT_EQ(List("").metadata().unread_count(), 2);
  // Tenant scopes are per feed too.
  EXPECT_EQ(Ids(List("announcements", v1::FEED_STATUS_FILTER_UNSPECIFIED, "acme")), std::vector<std::string>{"a2"});
  EXPECT_EQ(Ids(List("", v1::FEED_STATUS_FILTER_UNSPECIFIED, "acme")), std::vector<std::string>{"m2"});

  // Mark-all read in one feed leaves the other unread.
  v1::MarkFeedItemsResponse marked = MarkAll("announcements", v1::FEED_ACTION_READ);
  EXPECT_EQ(marked.changed(), 3);
  EXPECT_EQ(marked.metadata().unread_count(), 0);
  EXPECT_EQ(List("announcements").metadata().unread_count(), 0);
  EXPECT_EQ(List("").metadata().unread_count(), 2);
  EXPECT_EQ(Ids(List("", v1::FEED_STATUS_FILTER_UNREAD)), (std::vector<std::string>{"m2", "m1"}));

  // An id of the other feed is not in this one: refused, nothing changed.
  v1::MarkFeedItemsRequest request;
  request.set_user_id(kUser);
  request.set_action(v1::FEED_ACTION_ARCHIVED);
  request.add_ids("a1");
  auto refused = client_->Execute(*feed::MarkCommand(keys_, request, 6'000));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kNotFound) << refused.status();
  EXPECT_EQ(List("announcements").items_size(), 3);

  // A replayed insert finds the item in its own feed and writes nothing.
  redis::Reply again = Run(feed::InsertManyCommand(keys_, {Item("a1", "announcements")}));
  ASSERT_EQ(again.elements.size(), 1u);
  EXPECT_EQ(again.elements[0].integer, 0);
  // The same id in another feed is another item.
  redis::Reply other = Run(feed::InsertManyCommand(keys_, {Item("a1", "")}));
  EXPECT_GT(other.elements[0].integer, 0);
  EXPECT_EQ(List("").items_size(), 3);
}

TEST_F(NamedFeedsTest, MessagesFindItemsOfEveryFeed) {
  Run(feed::InsertManyCommand(keys_, {Item("m1", ""), Item("a1", "announcements", "acme")}));
  Run(feed::InsertManyCommand(keys_, {Item("b1", "billing"), Item("m2", "")}));
  for (const char* id : {"m1", "a1", "b1", "m2"}) {
    v1::Message message = messages::MessageFromFields(id, Run(messages::GetMessageCommand(keys_, kUser, id)).elements);
    EXPECT_EQ(message.recipient(), kUser) << id;
    EXPECT_EQ(message.channel_type(), "in_app_feed") << id;
  }
  v1::Message a1 = messages::MessageFromFields("a1", Run(messages::GetMessageCommand(keys_, kUser, "a1")).elements);
  EXPECT_EQ(a1.tenant(), "acme");
  EXPECT_TRUE(Run(messages::GetMessageCommand(keys_, kUser, "nope")).elements.empty());

  v1::ListMessagesRequest request;
  request.set_recipient(kUser);
  request.set_page_size(10);
  auto query = messages::ParseListRequest(request, kPartitions);
  ASSERT_TRUE(query.ok()) << query.status();
  auto page = messages::MergeListReplies(*query, client_->Pipeline(messages::ListCommands(*query)));
  ASSERT_TRUE(page.ok()) << page.status();
  std::vector<std::string> ids;
  for (const auto& message : page->messages()) ids.push_back(message.id());
  EXPECT_EQ(ids, (std::vector<std::string>{"m2", "b1", "a1", "m1"}));
}

TEST_F(NamedFeedsTest, MainFeedReadsWhatWasWrittenBeforeNamedFeeds) {
  // Written as an insert before named feeds did, spelled out key by key
  // (not through Keys, so a change of the main feed's key names fails
  // here): the record, the index, the sequence and the message-log entry
  // without a feed list.
  const std::string p = absl::StrCat("herald:{", keys_.partition(), "}:");
  v1::FeedItem body;
  body.add_actors("ana");
  const std::string seq = "1700000000000001";
  Run({"HSET", p + "feed:nora:items", "old1",
       absl::StrCat("~0\n0\n\nbell\nrun-old1\n\n\n", body.SerializeAsString())});
  Run({"ZADD", p + "feed:nora:index", seq, "old1"});
  Run({"SET", p + "feed_seq", seq});
  Run({"XADD", p + "message_log", "*", "s", seq, "u", "nora"});

  v1::ListFeedResponse page = List("");
  ASSERT_EQ(Ids(page), std::vector<std::string>{"old1"});
  EXPECT_EQ(page.items(0).actors(0), "ana");
  EXPECT_EQ(page.metadata().unread_count(), 1);
  EXPECT_EQ(Ids(List("main")), std::vector<std::string>{"old1"});
  EXPECT_TRUE(List("announcements").items().empty());
  EXPECT_EQ(MarkAll("main", v1::FEED_ACTION_READ).changed(), 1);
  EXPECT_EQ(Run({"HGET", p + "feed:nora:meta", "rw"}).str, seq);

  v1::ListMessagesRequest request;
  request.set_recipient(kUser);
  auto query = messages::ParseListRequest(request, kPartitions);
  ASSERT_TRUE(query.ok());
  auto messages_page = messages::MergeListReplies(*query, client_->Pipeline(messages::ListCommands(*query)));
  ASSERT_TRUE(messages_page.ok()) << messages_page.status();
  ASSERT_EQ(messages_page->messages_size(), 1);
  EXPECT_EQ(messages_page->messages(0).id(), "old1");
}

TEST_F(NamedFeedsTest, BadFeedNamesAreRefusedNamingTheField) {
  v1::ListFeedRequest list;
  list.set_user_id(kUser);
  list.set_feed("no such:feed");
  auto command = feed::ListCommand(keys_, list);
  EXPECT_EQ(command.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(command.status().message(), "feed: ")) << command.status();
  v1::MarkFeedItemsRequest mark;
  mark.set_user_id(kUser);
  mark.set_action(v1::FEED_ACTION_READ);
  mark.set_all(true);
  mark.set_feed(std::string(65, 'x'));
  auto marked = feed::MarkCommand(keys_, mark, 1);
  EXPECT_EQ(marked.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(marked.status().message(), "feed: ")) << marked.status();
}

TEST_F(NamedFeedsTest, DeletingTheUserRemovesTheItemsOfEveryFeedAndLeavesNoKey) {
  Run(feed::InsertManyCommand(keys_, {Item("m1", ""), Item("a1", "announcements", "acme"), Item("b1", "billing")}));
  MarkAll("announcements", v1::FEED_ACTION_READ);  // its watermark keys too
  auto deleted = api::DeleteUser(*client_, kUser, kPartitions);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  for (const char* feed : {"main", "announcements", "billing"}) {
    v1::ListFeedResponse page = List(feed, v1::FEED_STATUS_FILTER_UNSPECIFIED);
    EXPECT_TRUE(page.items().empty()) << feed;
    EXPECT_EQ(page.metadata().total_count(), 0) << feed;
  }
  for (const char* id : {"m1", "a1", "b1"}) {
    EXPECT_TRUE(Run(messages::GetMessageCommand(keys_, kUser, id)).elements.empty()) << id;
  }
  EXPECT_TRUE(Run({"KEYS", absl::StrCat(keys_.Prefix(), "*", kUser, "*")}).elements.empty())
      << "a deleted user leaves no key in any feed";
}

TEST_F(NamedFeedsTest, MergingUsersMovesEachItemIntoTheFeedOfTheSameName) {
  // The removed user's items (kUser) go to "ivy": her own main item stays,
  // theirs land in main / announcements with their read state.
  const std::string into = "ivy";
  const Keys into_keys(PartitionOf(into, kPartitions));
  feed::NewItem own = Item("i1", "");
  own.recipient = into;
  Run(feed::InsertManyCommand(into_keys, {own}));
  Run(feed::InsertManyCommand(keys_, {Item("m1", ""), Item("a1", "announcements", "acme"), Item("a2", "announcements")}));
  MarkAll("announcements", v1::FEED_ACTION_READ);
  auto merged = api::MergeUsers(*client_, into, kUser, kPartitions, 1'700'000'001'000);
  ASSERT_TRUE(merged.ok()) << merged.status();

  auto list = [&](const std::string& feed) {
    v1::ListFeedRequest request;
    request.set_user_id(into);
    request.set_feed(feed);
    request.set_status(v1::FEED_STATUS_FILTER_UNSPECIFIED);
    auto command = feed::ListCommand(into_keys, request);
    EXPECT_TRUE(command.ok()) << command.status();
    auto page = feed::ParseListReply(request, client_->Execute(*command).value());
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? *page : v1::ListFeedResponse();
  };
  v1::ListFeedResponse main = list("main");
  EXPECT_EQ(Ids(main).size(), 2u);
  EXPECT_EQ(main.metadata().unread_count(), 2);
  v1::ListFeedResponse announcements = list("announcements");
  std::vector<std::string> ids = Ids(announcements);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"a1", "a2"}));
  EXPECT_EQ(announcements.metadata().unread_count(), 0) << "read state moves with the items";
  EXPECT_EQ(announcements.metadata().total_count(), 2);
  EXPECT_TRUE(Run({"KEYS", absl::StrCat("herald:{*}:*", kUser, "*")}).elements.empty())
      << "the merged-away user leaves no key in any feed";
}

TEST_F(NamedFeedsTest, RetentionSweepsIdleNamedFeedsAndForgetsThemWhenEmpty) {
  feed::NewItem old_announcement = Item("a1", "announcements");
  feed::NewItem old_main = Item("m1", "");
  feed::NewItem fresh = Item("b1", "billing");
  fresh.inserted_at_us = old_main.inserted_at_us + 10'000'000;
  Run(feed::InsertManyCommand(keys_, {old_main, old_announcement}));
  Run(feed::InsertManyCommand(keys_, {fresh}));
  std::vector<std::string> cursors;
  int64_t removed = 0;
  for (int pass = 0; pass < 10; ++pass) {  // SCAN may need several steps
    auto swept = retention::SweepFeeds(*client_, kPartitions, old_main.inserted_at_us + 5'000'000, cursors);
    ASSERT_TRUE(swept.ok()) << swept.status();
    removed += *swept;
  }
  EXPECT_EQ(removed, 2);
  EXPECT_TRUE(List("announcements", v1::FEED_STATUS_FILTER_UNSPECIFIED).items().empty());
  EXPECT_TRUE(List("main", v1::FEED_STATUS_FILTER_UNSPECIFIED).items().empty());
  EXPECT_EQ(Ids(List("billing")), std::vector<std::string>{"b1"});
  EXPECT_TRUE(Run({"KEYS", absl::StrCat(keys_.Prefix(), "nfeed:13:announcements:*")}).elements.empty());
  auto feeds = Run({"SMEMBERS", keys_.FeedSet(kUser, "feeds")});
  ASSERT_EQ(feeds.elements.size(), 1u);
  EXPECT_EQ(feeds.elements[0].str, "billing");
}

TEST_F(NamedFeedsTest, IndexKeysOfEveryFeedAreRecognisedAndTenantScopesSkipped) {
  EXPECT_EQ(feed::FeedOfIndexKey(keys_, keys_.FeedSet("main", kUser, "index"))->feed, "main");
  auto named = feed::FeedOfIndexKey(keys_, keys_.FeedSet("a:b", "u:1", "index"));
  ASSERT_FALSE(named.has_value()) << "':' is no feed name character";
  named = feed::FeedOfIndexKey(keys_, keys_.FeedSet("news.v2", "u:1", "index"));
  ASSERT_TRUE(named.has_value());
  EXPECT_EQ(named->feed, "news.v2");
  EXPECT_EQ(named->user, "u:1");
  EXPECT_FALSE(feed::FeedOfIndexKey(keys_, keys_.TenantFeedSet("acme", kUser, "index")).has_value());
  EXPECT_FALSE(feed::FeedOfIndexKey(keys_, keys_.TenantFeedSet("news", "acme", kUser, "index")).has_value());
  EXPECT_FALSE(feed::FeedOfIndexKey(keys_, keys_.FeedSet(kUser, "items")).has_value());
  for (const char* junk : {"herald:{0}:nfeed:", "herald:{0}:nfeed:999:x:feed:u:index", "herald:{0}:nfeed:1:xfeed:u:index",
                           "herald:{0}:nfeed:-1::feed:u:index", "herald:{0}:feed::index"}) {
    EXPECT_FALSE(feed::FeedOfIndexKey(Keys(0), junk).has_value()) << junk;
  }
}

}  // namespace
}  // namespace herald
