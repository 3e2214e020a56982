#include "gateway/user_rate_limiter.h"

#include "gtest/gtest.h"

namespace herald::gateway {
namespace {

TEST(UserRateLimiterTest, BurstOfTwiceTheRateThenRefillPerUser) {
  SimulatedClock clock(1'000'000);
  UserRateLimiter limiter(clock, 2);  // burst 4
  for (int i = 0; i < 4; ++i) EXPECT_EQ(limiter.Take("u1"), 0) << i;
  EXPECT_EQ(limiter.Take("u1"), 500);  // a token every 500 ms
  EXPECT_EQ(limiter.Take("u2"), 0);    // another user's own bucket
  clock.AdvanceMicros(250'000);
  EXPECT_EQ(limiter.Take("u1"), 250);
  clock.AdvanceMicros(250'000);
  EXPECT_EQ(limiter.Take("u1"), 0);
}

TEST(UserRateLimiterTest, MemoryStaysBounded) {
  SimulatedClock clock(1'000'000);
  UserRateLimiter limiter(clock, 1, /*max_users=*/10);
  for (int i = 0; i < 10; ++i) limiter.Take("user" + std::to_string(i));
  clock.AdvanceMicros(10'000'000);  // every bucket full again
  limiter.Take("new");
  EXPECT_EQ(limiter.BucketsForTest(), 1u);
  UserRateLimiter unlimited(clock, 0);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(unlimited.Take("u"), 0);
}

}  // namespace
}  // namespace herald::gateway
