// Feed records in both layouts (feed/feed_layout.lua): the current one keeps
// the lag and the accepted time as small distances and takes the seq from
// the index; records written before it ("seq\nlag\n...\naccepted\n...")
// must still read the same during and after a rolling upgrade, through
// every reader: ListFeed, GetMessage, ListMessages, marks, the tools' item
// times, and the trim that removes them.
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

constexpr char kUser[] = "mira";
constexpr int kPartitions = 4;

class FeedRecordTest : public testing::RedisClientTest {
 protected:
  static feed::NewItem Item(const std::string& id, int64_t accepted_us, int64_t inserted_us) {
    feed::NewItem item;
    item.item.set_id(id);
    item.item.set_workflow("bell");
    item.item.set_tenant("acme");
    item.item.add_actors("ana");
    item.recipient = kUser;
    item.channel = "in_app_feed";
    item.accepted_at_us = accepted_us;
    item.inserted_at_us = inserted_us;
    item.workflow_run_id = "run-" + id;
    return item;
  }

  // An item as a version before this layout wrote it: record
  // "seq\nlag\ntenant\nworkflow\nrun\nchannel\naccepted\npreferences\n" + body,
  // index entries in both scopes, the tenant, and its per-item log entry.
  void InsertOldLayout(const std::string& id, int64_t seq, int64_t lag, int64_t accepted_us) {
    v1::FeedItem body;
    body.add_actors("ana");
    Run({"HSET", keys_.FeedSet(kUser, "items"), id,
         absl::StrCat(seq, "\n", lag, "\nacme\nbell\nrun-", id, "\n\n", accepted_us, "\n\n", body.SerializeAsString())});
    Run({"ZADD", keys_.FeedSet(kUser, "index"), std::to_string(seq), id});
    Run({"ZADD", keys_.TenantFeedSet("acme", kUser, "index"), std::to_string(seq), id});
    Run({"SADD", keys_.FeedSet(kUser, "tenants"), "acme"});
    Run({"SET", keys_.FeedSequence(), std::to_string(seq)});
    Run({"XADD", keys_.MessageLog(), "*", "m", id, "u", kUser});
  }

  v1::Message Get(const std::string& id) {
    return messages::MessageFromFields(id, Run(messages::GetMessageCommand(keys_, kUser, id)).elements);
  }

  std::vector<v1::FeedItem> List(v1::FeedStatusFilter filter = v1::FEED_STATUS_FILTER_UNSPECIFIED) {
    v1::ListFeedRequest request;
    request.set_user_id(kUser);
    request.set_status(filter);
    auto command = feed::ListCommand(keys_, request);
    EXPECT_TRUE(command.ok());
    auto page = feed::ParseListReply(request, Run(*command));
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? std::vector<v1::FeedItem>(page->items().begin(), page->items().end())
                     : std::vector<v1::FeedItem>();
  }

  const Keys keys_{PartitionOf(kUser, kPartitions)};
};

TEST_F(FeedRecordTest, OldAndNewRecordsReadTheSameEverywhere) {
  // Old: seq 5,000,000,000,000,100 with lag 3 (inserted ...097), accepted ...000.
  const int64_t old_seq = 5'000'000'000'000'100;
  InsertOldLayout("old", old_seq, 3, old_seq - 100);
  // New: three items in one call at now (the sequence continues above the
  // old one, so the later items have a lag), accepted at different times.
  const int64_t now = old_seq + 1'000;
  redis::Reply inserted = Run(feed::InsertManyCommand(
      keys_, {Item("n1", now - 2'500, now - 10), Item("n2", now - 1, now), Item("n3", 0, now - 5)}));
  ASSERT_EQ(inserted.elements.size(), 3u);
  EXPECT_EQ(inserted.elements[0].integer, now);
  EXPECT_EQ(inserted.elements[2].integer, now + 2);
  // The record does not repeat a 16-digit time.
  const std::string record = Run({"HGET", keys_.FeedSet(kUser, "items"), "n2"}).str;
  EXPECT_EQ(record.substr(0, 6), "~1\n1\na") << record;
  EXPECT_EQ(record.find(std::to_string(now)), std::string::npos) << record;

  struct Expected {
    const char* id;
    int64_t inserted_us;
    int64_t accepted_us;
  };
  // Every item of a call is inserted at the call's now (the fan-out's
  // newest insert time), whatever its sequence.
  const std::vector<Expected> expected = {
      {"n3", now, 0}, {"n2", now, now - 1}, {"n1", now, now - 2'500}, {"old", old_seq - 3, old_seq - 100}};
  for (const Expected& e : expected) {
    v1::Message m = Get(e.id);
    EXPECT_EQ(m.recipient(), kUser) << e.id;
    EXPECT_EQ(m.status(), "delivered") << e.id;
    EXPECT_EQ(m.workflow(), "bell") << e.id;
    EXPECT_EQ(m.tenant(), "acme") << e.id;
    EXPECT_EQ(m.workflow_run_id(), std::string("run-") + e.id);
    EXPECT_EQ(m.at_us(), e.inserted_us) << e.id;
    ASSERT_EQ(m.content().in_app().actors_size(), 1) << e.id;
    EXPECT_EQ(m.content().in_app().actors(0), "ana");
  }
  std::vector<std::string> ids;
  for (const auto& item : List()) ids.push_back(item.id());
  EXPECT_EQ(ids, (std::vector<std::string>{"n3", "n2", "n1", "old"}));
  for (const auto& item : List()) {
    for (const Expected& e : expected) {
      if (item.id() == e.id) {
        EXPECT_EQ(item.inserted_at_ms(), e.inserted_us / 1000) << e.id;
      }
    }
  }
  // The tools' item times (accepted, inserted), newest first.
  auto times = feed::ParseItemTimesReply(Run(feed::ItemTimesCommand(keys_, kUser, 4)));
  ASSERT_EQ(times.size(), 4u);
  for (size_t i = 0; i < times.size(); ++i) {
    EXPECT_EQ(times[i].accepted_at_us, expected[i].accepted_us) << expected[i].id;
    EXPECT_EQ(times[i].inserted_at_us, expected[i].inserted_us) << expected[i].id;
    EXPECT_EQ(times[i].tenant, "acme");
  }
  // ListMessages reads the old per-item entry and the new per-call one.
  v1::ListMessagesRequest request;
  auto query = messages::ParseListRequest(request, kPartitions);
  ASSERT_TRUE(query.ok());
  auto page = messages::MergeListReplies(*query, client_->Pipeline(messages::ListCommands(*query)));
  ASSERT_TRUE(page.ok()) << page.status();
  ids.clear();
  for (const auto& m : page->messages()) ids.push_back(m.id());
  EXPECT_EQ(ids, (std::vector<std::string>{"n3", "n2", "n1", "old"}));

  // Marks find both (read "old" and "n1", archive "old"), and the counts agree.
  v1::MarkFeedItemsRequest mark;
  mark.set_user_id(kUser);
  mark.set_action(v1::FEED_ACTION_READ);
  mark.add_ids("old");
  mark.add_ids("n1");
  auto read = feed::ParseMarkReply(Run(*feed::MarkCommand(keys_, mark, 7'000)));
  ASSERT_TRUE(read.ok()) << read.status();
  mark.set_action(v1::FEED_ACTION_ARCHIVED);
  mark.clear_ids();
  mark.add_ids("old");
  ASSERT_TRUE(feed::ParseMarkReply(Run(*feed::MarkCommand(keys_, mark, 8'000))).ok());
  ids.clear();
  for (const auto& item : List(v1::FEED_STATUS_FILTER_UNREAD)) ids.push_back(item.id());
  EXPECT_EQ(ids, (std::vector<std::string>{"n3", "n2"}));
  ids.clear();
  for (const auto& item : List(v1::FEED_STATUS_FILTER_ARCHIVED)) ids.push_back(item.id());
  EXPECT_EQ(ids, std::vector<std::string>{"old"});
  EXPECT_EQ(Get("old").archived_at_us(), 8'000'000);
  EXPECT_EQ(Get("n1").read_at_us(), 7'000'000);

  // A cap of 2 removes the oldest (old, then n1) with every trace of them.
  feed::InsertOptions cap;
  cap.max_items = 2;
  Run(feed::InsertManyCommand(keys_, {Item("n4", now, now + 10)}, cap));
  ids.clear();
  for (const auto& item : List()) ids.push_back(item.id());
  EXPECT_EQ(ids, (std::vector<std::string>{"n4", "n3"}));
  for (const char* gone : {"old", "n1", "n2"}) {
    EXPECT_EQ(Run({"HEXISTS", keys_.FeedSet(kUser, "items"), gone}).integer, 0) << gone;
    EXPECT_EQ(Run({"ZSCORE", keys_.TenantFeedSet("acme", kUser, "index"), gone}).type, redis::Reply::Type::kNil)
        << gone;
  }
}

// The insert writes each item's sequence as text from a prefix formatted
// once per thousand: a call whose sequences cross a thousand (and one below
// 1000, as in tests) must still score every item exactly.
TEST_F(FeedRecordTest, SequencesCrossingAThousandAreExact) {
  const int64_t now = 7'000'000'000'000'998;
  std::vector<feed::NewItem> items;
  for (const char* id : {"s1", "s2", "s3", "s4"}) items.push_back(Item(id, now, now));
  redis::Reply inserted = Run(feed::InsertManyCommand(keys_, items));
  ASSERT_EQ(inserted.elements.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    const std::string id = items[i].item.id();
    EXPECT_EQ(inserted.elements[i].integer, now + i) << id;
    EXPECT_EQ(Run({"ZSCORE", keys_.FeedSet(kUser, "index"), id}).str, std::to_string(now + i)) << id;
    EXPECT_EQ(Get(id).at_us(), now) << id;
  }
  EXPECT_EQ(Run({"GET", keys_.FeedSequence()}).str, std::to_string(now + 3));
  // Small sequences (a clock near 0) are written without padding.
  std::string user = "zed";
  while (PartitionOf(user, kPartitions) == keys_.partition()) user += "z";  // a partition with no sequence yet
  const Keys other(PartitionOf(user, kPartitions));
  feed::NewItem early = Item("e1", 0, 7);
  early.recipient = user;
  Run(feed::InsertManyCommand(other, {early}));
  EXPECT_EQ(Run({"ZSCORE", other.FeedSet(user, "index"), "e1"}).str, "7");
}

}  // namespace
}  // namespace herald
