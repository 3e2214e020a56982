// The per-worker record caches (users, preferences, tenants) against a real
// Redis. Regression: a read that mixed ids still fresh in the cache with new
// ids beyond the capacity used to clear the whole cache after skipping the
// fresh ones, so Find lost them: a real user became `unknown_recipient` and
// an opt-out was ignored. Every id of one read must be found after it.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/keys.h"
#include "core/invalidation_log.h"
#include "preferences/change_listener.h"
#include "preferences/preference_store.h"
#include "tests/support/eventually.h"
#include "preferences/preferences.h"
#include "templates/context.h"
#include "tenants/tenant_store.h"
#include "tests/support/redis_fixture.h"
#include "users/channel_data.h"
#include "users/user_store.h"

namespace herald {
namespace {

constexpr int kPartitions = 4;
constexpr size_t kCapacity = 10;
constexpr int64_t kTtlMicros = 2'000'000;
constexpr int kFirstRead = 8;   // ids read first, still fresh at the second read
constexpr int kSecondRead = 13;  // the 8 again plus 5 new: more than kCapacity

std::string Id(const std::string& prefix, int i) { return absl::StrCat(prefix, i); }

std::vector<std::string> Ids(const std::string& prefix, int count) {
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i) ids.push_back(Id(prefix, i));
  return ids;
}

class CacheTest : public testing::RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    client_ = Connect();
    ASSERT_TRUE(client_);
  }

  void Write(const redis::Command& command) {
    auto reply = client_->Execute(command);
    ASSERT_TRUE(reply.ok()) << reply.status();
  }

  // The two reads of the regression: the first kFirstRead of `ids`, then,
  // within the TTL, all of them (kSecondRead) in one read.
  template <typename Cache, typename Id>
  void ReadFewThenAll(Cache& cache, const std::vector<Id>& ids) {
    ASSERT_EQ(ids.size(), static_cast<size_t>(kSecondRead));
    ASSERT_TRUE(cache.Prefetch(*client_, std::vector<Id>(ids.begin(), ids.begin() + kFirstRead)).ok());
    clock_.AdvanceMicros(kTtlMicros / 2);
    ASSERT_TRUE(cache.Prefetch(*client_, ids).ok());
  }

  SimulatedClock clock_{1'700'000'000'000'000};
  std::unique_ptr<redis::RedisClient> client_;
};

TEST_F(CacheTest, UserCacheKeepsEveryUserOfAReadLargerThanItsRoom) {
  for (int i = 0; i < kSecondRead; ++i) {
    v1::InlineUser user;
    user.set_id(Id("user-", i));
    user.set_name(Id("User ", i));
    Write(users::IdentifyCommand(Keys(PartitionOf(user.id(), kPartitions)).User(user.id()), user, 1000));
    Write(users::SetChannelDataCommand(user.id(), "push", absl::StrCat(R"({"tokens":["token-)", i, R"("]})"),
                                       kPartitions));
  }
  users::UserCache cache(clock_, kPartitions, users::UserCache::ChannelData::kLoad, kTtlMicros, kCapacity);

  ASSERT_NO_FATAL_FAILURE(ReadFewThenAll(cache, Ids("user-", kSecondRead)));

  for (int i = 0; i < kSecondRead; ++i) {
    const nlohmann::json* user = cache.Find(Id("user-", i));
    ASSERT_NE(user, nullptr) << Id("user-", i) << " lost: it would be recorded unknown_recipient";
    EXPECT_EQ(user->value("name", ""), Id("User ", i));
    const nlohmann::json* push = cache.FindChannelData(Id("user-", i), "push");
    ASSERT_NE(push, nullptr) << Id("user-", i);
    EXPECT_EQ((*push)["tokens"][0], Id("token-", i));
  }
}

TEST_F(CacheTest, PreferenceCacheKeepsEveryOptOutOfAReadLargerThanItsRoom) {
  // Every user opts out of email, of the "digest" workflow in their tenant,
  // and every tenant opts its users out of push; sms stays allowed.
  std::vector<std::pair<std::string, std::string>> targets;
  for (int i = 0; i < kSecondRead; ++i) {
    const std::string user = Id("user-", i), tenant = Id("tenant-", i);
    targets.emplace_back(user, tenant);
    auto user_set = preferences::SetCommand({user, ""}, R"({"channel_types":{"email":false}})", kPartitions);
    auto user_tenant_set = preferences::SetCommand({user, tenant}, R"({"workflows":{"digest":false}})", kPartitions);
    auto tenant_set = preferences::SetCommand({"", tenant}, R"({"channel_types":{"push":false}})", kPartitions);
    ASSERT_TRUE(user_set.ok() && user_tenant_set.ok() && tenant_set.ok());
    Write(user_set->command);
    Write(user_tenant_set->command);
    Write(tenant_set->command);
  }
  preferences::PreferenceCache cache(clock_, kPartitions, kTtlMicros, kCapacity);

  ASSERT_NO_FATAL_FAILURE(ReadFewThenAll(cache, targets));

  templates::Context context;
  auto decide = [&](const std::pair<std::string, std::string>& target, const std::string& workflow,
                    const std::string& channel_type) {
    preferences::Question question;
    question.workflow = workflow;
    question.channel_type = channel_type;
    return preferences::Evaluate(question, cache.Find(target.first, target.second, nullptr), context);
  };
  for (const auto& target : targets) {
    SCOPED_TRACE(target.first + " in " + target.second);
    preferences::LevelSets sets = cache.Find(target.first, target.second, nullptr);
    EXPECT_NE(sets.user, nullptr);
    EXPECT_NE(sets.user_tenant, nullptr);
    EXPECT_NE(sets.tenant, nullptr);
    EXPECT_FALSE(decide(target, "comment", "email").send) << "user's email opt-out ignored";
    EXPECT_FALSE(decide(target, "digest", "sms").send) << "user's per-tenant workflow opt-out ignored";
    EXPECT_FALSE(decide(target, "comment", "push").send) << "tenant's push opt-out ignored";
    EXPECT_TRUE(decide(target, "comment", "sms").send);
  }
}

TEST_F(CacheTest, TenantCacheKeepsEveryTenantOfAReadLargerThanItsRoom) {
  for (int i = 0; i < kSecondRead; ++i) {
    v1::IdentifyTenantRequest request;
    request.set_id(Id("tenant-", i));
    request.set_name(Id("Tenant ", i));
    auto command = tenants::IdentifyCommand(request, kPartitions, 1000);
    ASSERT_TRUE(command.ok()) << command.status();
    Write(*command);
  }
  tenants::TenantCache cache(clock_, kPartitions, kTtlMicros, kCapacity);

  ASSERT_NO_FATAL_FAILURE(ReadFewThenAll(cache, Ids("tenant-", kSecondRead)));

  for (int i = 0; i < kSecondRead; ++i) {
    const nlohmann::json* tenant = cache.Find(Id("tenant-", i));
    ASSERT_NE(tenant, nullptr) << Id("tenant-", i) << " lost";
    EXPECT_EQ(tenant->value("name", ""), Id("Tenant ", i));
  }
}

// After a read that outgrew the capacity, later reads still find their own
// ids and see writes made after the TTL.
TEST_F(CacheTest, UserCacheRereadsStaleUsersAfterAnOversizedRead) {
  auto identify = [&](int i, const std::string& name) {
    v1::InlineUser user;
    user.set_id(Id("user-", i));
    user.set_name(name);
    Write(users::IdentifyCommand(Keys(PartitionOf(user.id(), kPartitions)).User(user.id()), user, 1000));
  };
  for (int i = 0; i < kSecondRead; ++i) identify(i, "before");
  users::UserCache cache(clock_, kPartitions, users::UserCache::ChannelData::kSkip, kTtlMicros, kCapacity);
  ASSERT_TRUE(cache.Prefetch(*client_, Ids("user-", kSecondRead)).ok());

  for (int i = 0; i < kSecondRead; ++i) identify(i, "after");
  clock_.AdvanceMicros(kTtlMicros);
  ASSERT_TRUE(cache.Prefetch(*client_, Ids("user-", kFirstRead)).ok());
  for (int i = 0; i < kFirstRead; ++i) {
    const nlohmann::json* user = cache.Find(Id("user-", i));
    ASSERT_NE(user, nullptr) << Id("user-", i);
    EXPECT_EQ(user->value("name", ""), "after");
  }
}

// A changed preference set must count for the next read, not after the
// cache's TTL: set.lua announces it on the partition's change stream, the
// listener puts it on the log, the cache drops it before its next read.
TEST_F(CacheTest, AChangedPreferenceSetIsReadAgainAtOnceNotAfterTheTtl) {
  InvalidationLog changes;
  preferences::ChangeListenerOptions listener_options;
  listener_options.partitions = kPartitions;
  listener_options.block = absl::Milliseconds(50);
  auto listener = preferences::PreferenceChangeListener::Start(endpoint(), listener_options, changes);
  ASSERT_TRUE(listener.ok()) << listener.status();
  preferences::PreferenceCache cache(clock_, kPartitions, kTtlMicros, kCapacity, &changes);
  auto set = [&](const std::string& user, const std::string& tenant, const std::string& json) {
    auto write = preferences::SetCommand({user, tenant}, json, kPartitions);
    ASSERT_TRUE(write.ok()) << write.status();
    Write(write->command);
  };
  auto email_allowed = [&](const std::string& user, const std::string& tenant) {
    preferences::Question question;
    question.workflow = "digest";
    question.channel_type = "email";
    templates::Context context;
    return preferences::Evaluate(question, cache.Find(user, tenant, nullptr), context).send;
  };
  const std::vector<std::pair<std::string, std::string>> targets = {{"ana", "acme"}, {"bo", "acme"}};
  ASSERT_TRUE(cache.Prefetch(*client_, targets).ok());
  ASSERT_TRUE(email_allowed("ana", "acme"));

  // Ana opts out; the tenant opts every user out of email. The clock does
  // not move: only the announcements can make the cache read again.
  const uint64_t before = changes.end();
  set("ana", "", R"({"channel_types":{"email":false}})");
  ASSERT_TRUE(testing::Eventually([&] { return changes.end() >= before + 1; }, absl::Seconds(10)));
  ASSERT_TRUE(cache.Prefetch(*client_, targets).ok());
  EXPECT_FALSE(email_allowed("ana", "acme")) << "the opt-out must count at once";
  EXPECT_TRUE(email_allowed("bo", "acme"));
  set("", "acme", R"({"channel_types":{"email":false}})");
  ASSERT_TRUE(testing::Eventually([&] { return changes.end() >= before + 2; }, absl::Seconds(10)));
  ASSERT_TRUE(cache.Prefetch(*client_, targets).ok());
  EXPECT_FALSE(email_allowed("bo", "acme")) << "a tenant's default counts at once too";
}

TEST(InvalidationLogTest, AReaderThatFellBehindTheLogIsToldToDropEverything) {
  InvalidationLog log(/*capacity=*/2);
  uint64_t cursor = log.end();
  std::vector<std::string> seen;
  auto collect = [&seen](const std::string& id) { seen.push_back(id); };
  log.Add("ua");
  EXPECT_TRUE(log.ReadSince(&cursor, collect));
  EXPECT_EQ(seen, std::vector<std::string>{"ua"});
  EXPECT_EQ(cursor, log.end());
  seen.clear();
  for (const char* id : {"ub", "uc", "ud"}) log.Add(id);
  EXPECT_FALSE(log.ReadSince(&cursor, collect)) << "ub fell off the log";
  EXPECT_TRUE(seen.empty());
  EXPECT_EQ(cursor, log.end());
  log.Add("ue");
  EXPECT_TRUE(log.ReadSince(&cursor, collect));
  EXPECT_EQ(seen, std::vector<std::string>{"ue"});
  log.AddEverything();
  EXPECT_FALSE(log.ReadSince(&cursor, collect));
  EXPECT_TRUE(log.ReadSince(&cursor, collect)) << "nothing new since";
}

}  // namespace
}  // namespace herald
