// core/keys.lua derives keys inside scripts; core/keys.cc names them in
// C++. This checks, on a real Redis, that both spell every key the same
// way (with separators and braces inside the parts), and that every key
// of a partition has the partition's hash tag.
#include "core/keys.h"

#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/testdata/key_layout_probe.lua.h"
#include "gtest/gtest.h"
#include "redis/script.h"
#include "tests/support/redis_fixture.h"

namespace herald {
namespace {

const redis::Script kProbe(lua::kCoreTestdataKeyLayoutProbe);

class KeysTest : public testing::RedisTest {};

TEST_F(KeysTest, LuaDerivesEveryKeyExactlyAsCppNamesIt) {
  auto client = Connect();
  struct Case {
    int partition;
    std::string id, workflow, cancellation_key, user, set, tenant, feed;
  };
  const std::vector<Case> cases = {
      {0, "0123abcd", "digest", "order-7", "rita", "active", "acme", "announcements"},
      {7, "x", "a:b", "c", "user:with:colons", "unread", "t:1", "main"},
      {3, "id", "wf{", "}ck", "u{1}", "archived", "{tenant}", ""},
  };
  for (const Case& c : cases) {
    const Keys keys(c.partition);
    auto reply = client->Execute(
        kProbe.Call({keys.Events()}, {c.id, c.workflow, c.cancellation_key, c.user, c.set, c.tenant, c.feed}));
    ASSERT_TRUE(reply.ok()) << reply.status();
    ASSERT_EQ(reply->elements.size(), 16u);
    std::vector<std::string> lua;
    for (const auto& element : reply->elements) lua.push_back(element.str);
    EXPECT_EQ(lua[0], keys.Prefix());
    EXPECT_EQ(lua[1], keys.Message(c.id));
    EXPECT_EQ(lua[2], keys.Run(c.id));
    EXPECT_EQ(lua[3], keys.WaitHeader(c.id));
    EXPECT_EQ(lua[4], keys.WaitActivities(c.id));
    EXPECT_EQ(lua[5], keys.CancelIndex(c.workflow, c.cancellation_key, c.user));
    EXPECT_EQ(lua[6], keys.FeedSet(c.user, c.set));
    EXPECT_EQ(lua[7], keys.TenantFeedSet(c.tenant, c.user, c.set));
    EXPECT_EQ(lua[8], keys.WaitOpen(c.id));
    EXPECT_EQ(lua[9], keys.MessageEvents(c.id));
    EXPECT_EQ(lua[10], keys.EventOutbox());
    EXPECT_EQ(lua[11], keys.EventOutboxEnabled());
    EXPECT_EQ(lua[12], keys.RunAppended(c.id, 7));
    EXPECT_EQ(lua[13], keys.FeedSet(c.feed, c.user, c.set));
    EXPECT_EQ(lua[14], keys.TenantFeedSet(c.feed, c.tenant, c.user, c.set));
    EXPECT_EQ(lua[15], keys.FeedChanges());
    // The main feed keeps the keys it had before named feeds.
    if (c.feed.empty() || c.feed == "main") EXPECT_EQ(lua[13], keys.FeedSet(c.user, c.set));
    else EXPECT_NE(lua[13], keys.FeedSet(c.user, c.set));
    for (const std::string& key : lua) {
      EXPECT_EQ(HashTagOf(key), std::to_string(c.partition)) << key << " is outside partition " << c.partition;
    }
  }
}

TEST(KeysLayoutTest, EveryKeyOfAPartitionCarriesItsHashTag) {
  const Keys keys(12);
  for (const std::string& key :
       {keys.Events(), keys.EventsBulk(), keys.Batches(), keys.BatchesBulk(), keys.Due(), keys.Expansions(), keys.Deliveries(), keys.DeliveryDue(),
        keys.DeadLetters(), keys.MessageLog(), keys.EventOutbox(), keys.EventOutboxEnabled(), keys.EventDue(),
        keys.MessageEvents("m"), keys.User("u"),
        keys.Preferences("u"), keys.TenantPreferences("t"), keys.ChannelData("u"), keys.UserSubscriptions("u"),
        keys.UserRecords("u"), keys.Object("c/i"), keys.Subscribers("c/i"), keys.Tenant("t"), keys.Fanout("f"),
        keys.Idempotency("w", "k"), keys.IdempotencyWritten("w", "k"), keys.Message("m"), keys.FeedSet("u", "meta"),
        keys.TenantFeedSet("t", "u", "active"), keys.FeedSet("news", "u", "index"),
        keys.TenantFeedSet("news", "t", "u", "index"), keys.FeedChanges(), keys.PreferenceChanges(), keys.Run("r"), keys.RunAppended("r", 0),
        keys.Throttle("d"), keys.ThrottleDecision("r", 1), keys.Waits(), keys.Delays(), keys.OlderDue(),
        keys.WaitOpen("w"), keys.WaitHeader("b"),
        keys.WaitActivities("b"), keys.CancelIndex("w", "k", "r"), keys.CancelRecipients("w", "k")}) {
    EXPECT_EQ(HashTagOf(key), "12") << key;
  }
  // The lanes are distinct streams, chosen by Lane.
  EXPECT_NE(keys.Events(), keys.EventsBulk());
  EXPECT_EQ(keys.Events(Lane::kNormal), keys.Events());
  EXPECT_EQ(keys.Events(Lane::kBulk), keys.EventsBulk());
  EXPECT_EQ(keys.Batches(Lane::kBulk), keys.BatchesBulk());
  EXPECT_EQ(keys.BatchesBulk(), "herald:{12}:batches:bulk");
  // Parts that meet are length-prefixed: these must not collide.
  EXPECT_NE(keys.CancelIndex("a:b", "c", "r"), keys.CancelIndex("a", "b:c", "r"));
  EXPECT_NE(keys.Idempotency("a:b", "c"), keys.Idempotency("a", "b:c"));
}

TEST(KeysOfTest, TheKeptKeysAreAPartitionsKeysBuiltOnceWhateverTheThreads) {
  // First use from several threads at once: every caller gets the same
  // object, whichever thread built it. 5000 is past the lock-free slots.
  for (int partition : {0, 3, 4095, 4096, 5000}) {
    std::vector<const Keys*> seen(8, nullptr);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < seen.size(); ++t) threads.emplace_back([&, t] { seen[t] = &KeysOf(partition); });
    for (std::thread& thread : threads) thread.join();
    for (const Keys* keys : seen) EXPECT_EQ(keys, seen[0]) << partition;
    const Keys fresh(partition);
    EXPECT_EQ(KeysOf(partition).partition(), partition);
    EXPECT_EQ(KeysOf(partition).Events(), fresh.Events());
    EXPECT_EQ(KeysOf(partition).EventDue(), fresh.EventDue());
    EXPECT_EQ(KeysOf(partition).User("ana"), fresh.User("ana"));
  }
}

}  // namespace
}  // namespace herald
