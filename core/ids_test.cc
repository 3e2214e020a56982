#include "core/ids.h"
#include "core/feed_names.h"

#include <cstdio>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace herald {
namespace {

// The values below were computed once with the implementation that wrote
// the stored data and are hard-coded on purpose. Message ids, run ids and
// batch ids are DeterministicId()s, and every key lives in the partition
// PartitionOf() picks: a change of the hash, the id derivation or the
// partitioning would orphan every key already in Redis (replays would land
// on new ids, users in other partitions). Such a change must fail here and
// come with a migration, not pass unnoticed.
TEST(IdsTest, HashIsPinned) {
  EXPECT_EQ(StableHash64("herald"), 0x284fdd249292f866ULL);
  EXPECT_NE(StableHash64("herald"), StableHash64("heralds"));
}

TEST(IdsTest, DeterministicIdIsPinned) {
  EXPECT_EQ(DeterministicId({"run", "0", "in_app_feed"}), "f4eec0170704391b03bb92829a992790");
  EXPECT_EQ(DeterministicId({"a"}), "b24b32f956aea94dd5d90f1b6e413d4c");
}

// DeterministicId as it was first written, chain by chain with
// StableHash64: every id stored so far was made this way.
std::string ReferenceId(std::initializer_list<absl::string_view> parts) {
  uint64_t high = 0x6a09e667f3bcc908ULL;
  uint64_t low = 0xbb67ae8584caa73bULL;
  for (absl::string_view part : parts) {
    const std::string length = std::to_string(part.size()) + ":";
    high = StableHash64(part, StableHash64(length, high));
    low = StableHash64(part, StableHash64(length, low ^ 0x3c6ef372fe94f82bULL));
  }
  char text[33];
  snprintf(text, sizeof(text), "%016llx%016llx", static_cast<unsigned long long>(high),
           static_cast<unsigned long long>(low));
  return text;
}

TEST(IdsTest, DeterministicIdIsTheChainedHashOfItsParts) {
  const std::string long_part(1000, 'z');
  EXPECT_EQ(DeterministicId({}), ReferenceId({}));
  EXPECT_EQ(DeterministicId({""}), ReferenceId({""}));
  EXPECT_EQ(DeterministicId({"0f3c9a1b2d4e5f60718293a4b5c6d7e8", "direct", "0"}),
            ReferenceId({"0f3c9a1b2d4e5f60718293a4b5c6d7e8", "direct", "0"}));
  EXPECT_EQ(DeterministicId({"batch", "wf", "user-1", "", "2", long_part}),
            ReferenceId({"batch", "wf", "user-1", "", "2", long_part}));
}

TEST(IdsTest, DeterministicIdIsUnambiguous) {
  EXPECT_NE(DeterministicId({"ab", "c"}), DeterministicId({"a", "bc"}));
  EXPECT_NE(DeterministicId({"a", ""}), DeterministicId({"a"}));
  EXPECT_EQ(DeterministicId({"x"}).size(), 32u);
}

TEST(IdsTest, PartitionsArePinned) {
  EXPECT_EQ(PartitionOf("user-1", 4), 0);
  EXPECT_EQ(PartitionOf("user-42", 16), 3);
  EXPECT_EQ(PartitionOf("object:projects/p1", 8), 7);
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

namespace herald {
namespace {

TEST(FeedNamesTest, AcceptsIdLikeNamesAndRefusesOthersNamingTheField) {
  EXPECT_TRUE(ValidateFeedName("main", "feed").ok());
  EXPECT_TRUE(ValidateFeedName("product-updates_2.0", "feed").ok());
  for (absl::string_view bad : {"", "a b", "a:b", "ünï", "x{1}", "new\nline"}) {
    absl::Status status = ValidateFeedName(bad, "feed");
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(absl::StartsWith(status.message(), "feed: ")) << status;
  }
  EXPECT_FALSE(ValidateFeedName(std::string(65, 'a'), "feed").ok());
  EXPECT_EQ(FeedOrMain(""), "main");
  EXPECT_EQ(FeedOrMain("news"), "news");
}

}  // namespace
}  // namespace herald
