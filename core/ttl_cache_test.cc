// TtlCache: what a read loads, what it finds, and what eviction may take.
#include "core/ttl_cache.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace herald {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr int64_t kTtl = 1'000'000;

std::vector<std::string> Ids(const std::string& prefix, int count) {
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i) ids.push_back(absl::StrCat(prefix, i));
  return ids;
}

class TtlCacheTest : public ::testing::Test {
 protected:
  // One read: loads what StartRead asks for, each value "<id>@<version>".
  std::vector<std::string> Read(TtlCache<std::string>& cache, const std::vector<std::string>& ids,
                                const std::string& version = "v1") {
    std::vector<std::string> loaded = cache.StartRead(ids);
    for (const std::string& id : loaded) cache.Put(id, absl::StrCat(id, "@", version));
    return loaded;
  }

  // The ids of `ids` the cache finds.
  static int CountFound(const TtlCache<std::string>& cache, const std::vector<std::string>& ids) {
    int found = 0;
    for (const std::string& id : ids) found += cache.Find(id) != nullptr;
    return found;
  }

  SimulatedClock clock_{1'000'000'000};
};

TEST_F(TtlCacheTest, LoadsEachMissingIdOnceInFirstSeenOrder) {
  TtlCache<std::string> cache(clock_, kTtl, 10);
  EXPECT_THAT(cache.StartRead({"b", "a", "b", "c", "a"}), ElementsAre("b", "a", "c"));
  EXPECT_EQ(cache.Find("a"), nullptr);
  cache.Put("a", "A");
  ASSERT_NE(cache.Find("a"), nullptr);
  EXPECT_EQ(*cache.Find("a"), "A");
  EXPECT_EQ(cache.Find("b"), nullptr);
}

TEST_F(TtlCacheTest, FreshEntriesAreNotReloadedStaleOnesAreOnce) {
  TtlCache<std::string> cache(clock_, kTtl, 10);
  Read(cache, {"a", "b"});
  clock_.AdvanceMicros(kTtl - 1);
  EXPECT_THAT(cache.StartRead({"a", "b", "a"}), IsEmpty());

  clock_.AdvanceMicros(1);
  EXPECT_THAT(cache.StartRead({"b", "a", "b", "c", "a"}), ElementsAre("b", "a", "c"));
  // Until reloaded, the stale value is still what Find sees.
  EXPECT_EQ(*cache.Find("a"), "a@v1");
  cache.Put("a", "a@v2");
  EXPECT_EQ(*cache.Find("a"), "a@v2");
}

TEST_F(TtlCacheTest, PutRestartsTheTtl) {
  TtlCache<std::string> cache(clock_, kTtl, 10);
  Read(cache, {"a"});
  clock_.AdvanceMicros(kTtl);
  EXPECT_THAT(Read(cache, {"a"}, "v2"), ElementsAre("a"));
  clock_.AdvanceMicros(kTtl - 1);
  EXPECT_THAT(cache.StartRead({"a"}), IsEmpty());
  EXPECT_EQ(*cache.Find("a"), "a@v2");
}

// The defect this cache replaces: fresh ids of a read were dropped to make
// room for its new ones.
TEST_F(TtlCacheTest, FreshAndNewIdsOfOneReadAllSurviveWhenTogetherOverCapacity) {
  TtlCache<std::string> cache(clock_, kTtl, 10);
  std::vector<std::string> ids = Ids("u", 13);
  Read(cache, {ids.begin(), ids.begin() + 8});
  clock_.AdvanceMicros(kTtl / 2);
  EXPECT_THAT(Read(cache, ids), ElementsAre("u8", "u9", "u10", "u11", "u12"));
  for (const std::string& id : ids) {
    ASSERT_NE(cache.Find(id), nullptr) << id;
    EXPECT_EQ(*cache.Find(id), absl::StrCat(id, "@v1"));
  }
  EXPECT_EQ(cache.size(), 13u);  // grown past capacity for this read
}

TEST_F(TtlCacheTest, AReadAloneLargerThanCapacityKeepsAllItsIds) {
  TtlCache<std::string> cache(clock_, kTtl, 10);
  Read(cache, Ids("old", 10));
  std::vector<std::string> ids = Ids("u", 25);
  EXPECT_EQ(Read(cache, ids).size(), 25u);
  EXPECT_EQ(CountFound(cache, ids), 25);
  EXPECT_EQ(CountFound(cache, Ids("old", 10)), 0);  // not held: evicted first
  EXPECT_EQ(cache.size(), 25u);
}

TEST_F(TtlCacheTest, HeldStaleEntriesSurviveUntilReloaded) {
  TtlCache<std::string> cache(clock_, kTtl, 4);
  Read(cache, Ids("s", 4));
  clock_.AdvanceMicros(kTtl);
  std::vector<std::string> ids = Ids("s", 4);
  for (const std::string& id : Ids("n", 3)) ids.push_back(id);
  std::vector<std::string> to_load = cache.StartRead(ids);
  ASSERT_EQ(to_load.size(), 7u);
  // New ids first: the cache goes over capacity while the stale held ones
  // still wait for their reload.
  for (int i = 6; i >= 0; --i) {
    cache.Put(to_load[i], "reloaded");
    EXPECT_EQ(CountFound(cache, ids), std::min(7, 4 + (7 - i))) << "after putting " << to_load[i];
  }
  EXPECT_EQ(CountFound(cache, ids), 7);
}

TEST_F(TtlCacheTest, EvictionTakesStaleEntriesBeforeFreshOnes) {
  TtlCache<std::string> cache(clock_, kTtl, 8);  // low water 6
  Read(cache, Ids("stale", 4));
  clock_.AdvanceMicros(kTtl * 6 / 10);
  Read(cache, Ids("fresh", 4));
  clock_.AdvanceMicros(kTtl * 6 / 10);  // "stale*" are past the TTL, "fresh*" are not
  Read(cache, Ids("new", 2));

  EXPECT_EQ(CountFound(cache, Ids("stale", 4)), 0);
  EXPECT_EQ(CountFound(cache, Ids("fresh", 4)), 4);
  EXPECT_EQ(CountFound(cache, Ids("new", 2)), 2);
  EXPECT_EQ(cache.size(), 6u);
}

TEST_F(TtlCacheTest, WithNothingStaleEvictionTakesTheOldestDownToTheLowWaterMark) {
  TtlCache<std::string> cache(clock_, kTtl, 8);  // low water 6
  Read(cache, Ids("older", 4));
  clock_.AdvanceMicros(kTtl / 10);
  Read(cache, Ids("newer", 4));
  clock_.AdvanceMicros(kTtl / 10);
  Read(cache, Ids("new", 2));

  // The first new id made 9 > 8: 3 evicted (to 6), all of them "older".
  EXPECT_EQ(CountFound(cache, Ids("older", 4)), 1);
  EXPECT_EQ(CountFound(cache, Ids("newer", 4)), 4);
  EXPECT_EQ(CountFound(cache, Ids("new", 2)), 2);
  EXPECT_EQ(cache.size(), 7u);
}

TEST_F(TtlCacheTest, CapacityIsRestoredByTheReadAfterAnOversizedOne) {
  TtlCache<std::string> cache(clock_, kTtl, 10);
  Read(cache, Ids("big", 30));
  ASSERT_EQ(cache.size(), 30u);

  // A read that loads nothing still gives the room back.
  std::vector<std::string> small = {"big0", "big1", "big2"};
  EXPECT_THAT(cache.StartRead(small), IsEmpty());
  EXPECT_LE(cache.size(), cache.capacity());
  EXPECT_EQ(CountFound(cache, small), 3);

  // So does one that loads; and it stays bounded over many reads.
  for (int round = 0; round < 20; ++round) {
    std::vector<std::string> ids = Ids(absl::StrCat("r", round, "-"), 4);
    Read(cache, ids);
    EXPECT_EQ(CountFound(cache, ids), 4);
    EXPECT_LE(cache.size(), cache.capacity());
  }
}

TEST_F(TtlCacheTest, ZeroCapacityStillServesTheCurrentRead) {
  TtlCache<std::string> cache(clock_, kTtl, 0);
  Read(cache, {"a", "b"});
  EXPECT_EQ(CountFound(cache, {"a", "b"}), 2);
  Read(cache, {"c"});
  EXPECT_EQ(CountFound(cache, {"c"}), 1);
  EXPECT_EQ(cache.size(), 1u);
}

}  // namespace
}  // namespace herald
