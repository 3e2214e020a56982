// The shared token bucket script on a real Redis: what each mode grants,
// the delay it reports, refill over the caller's time, and giving back.
#include "redis/token_bucket.h"

#include "gtest/gtest.h"
#include "tests/support/redis_fixture.h"

namespace herald::redis {
namespace {

class TokenBucketTest : public testing::RedisTest {
 protected:
  TokenGrant Take(int64_t now_ms, int wanted, TakeMode mode) {
    auto reply = client_->Execute(TakeTokensCommand(kKey, kLimit, now_ms, wanted, mode));
    EXPECT_TRUE(reply.ok()) << reply.status();
    if (!reply.ok()) return {};
    auto grant = ParseTokenGrant(*reply);
    EXPECT_TRUE(grant.ok()) << grant.status();
    return grant.ok() ? *grant : TokenGrant{};
  }

  static constexpr char kKey[] = "herald:{triggerlimit:test:a}:bucket";
  // 4 tokens a second (one every 250 ms), at most 3 at once.
  static constexpr TokenBucketLimit kLimit{4, 3};
  std::unique_ptr<RedisClient> client_ = Connect();
};

TEST_F(TokenBucketTest, UpToGrantsWhatIsThereAndTheDelayOfTheNextToken) {
  TokenGrant grant = Take(1000, 5, TakeMode::kUpTo);
  EXPECT_EQ(grant.granted, 3);
  EXPECT_EQ(grant.retry_in_ms, 250);
  // 100 ms later: 0.4 tokens, the next one in 150 ms.
  grant = Take(1100, 1, TakeMode::kUpTo);
  EXPECT_EQ(grant.granted, 0);
  EXPECT_EQ(grant.retry_in_ms, 150);
}

TEST_F(TokenBucketTest, AllGrantsEverythingOrNothingAndTakesNothingWhenRefused) {
  EXPECT_EQ(Take(1000, 2, TakeMode::kAll).granted, 2);
  TokenGrant refused = Take(1000, 2, TakeMode::kAll);
  EXPECT_EQ(refused.granted, 0);
  EXPECT_EQ(refused.retry_in_ms, 250);  // one token missing
  // The refused call took nothing: the one token left is still there.
  TokenGrant one = Take(1000, 1, TakeMode::kAll);
  EXPECT_EQ(one.granted, 1);
  EXPECT_EQ(one.retry_in_ms, 0);
  // Empty: three tokens take 750 ms; after 500 ms two are there.
  EXPECT_EQ(Take(1000, 3, TakeMode::kAll).retry_in_ms, 750);
  EXPECT_EQ(Take(1500, 2, TakeMode::kAll).granted, 2);
}

TEST_F(TokenBucketTest, RefillsWithTimeUpToTheBurstAndAClockGoingBackRefillsNothing) {
  EXPECT_EQ(Take(1000, 3, TakeMode::kAll).granted, 3);
  EXPECT_EQ(Take(500, 1, TakeMode::kAll).granted, 0);  // earlier than the last take
  EXPECT_EQ(Take(60'000, 5, TakeMode::kUpTo).granted, 3);  // a long pause fills only to the burst
}

TEST_F(TokenBucketTest, ReturnedTokensCanBeTakenAgainButNeverPastTheBurst) {
  EXPECT_EQ(Take(1000, 3, TakeMode::kAll).granted, 3);
  ASSERT_TRUE(client_->Execute(ReturnTokensCommand(kKey, kLimit, 1000, 2)).ok());
  EXPECT_EQ(Take(1000, 2, TakeMode::kAll).granted, 2);
  ASSERT_TRUE(client_->Execute(ReturnTokensCommand(kKey, kLimit, 1000, 10)).ok());
  EXPECT_EQ(Take(1000, 4, TakeMode::kAll).granted, 0);
  EXPECT_EQ(Take(1000, 3, TakeMode::kAll).granted, 3);
}

TEST_F(TokenBucketTest, TheBucketExpiresOnceItWouldBeFullAgain) {
  EXPECT_EQ(Take(1000, 1, TakeMode::kAll).granted, 1);
  auto ttl = client_->Execute({"PTTL", kKey});
  ASSERT_TRUE(ttl.ok());
  // A full refill (750 ms) plus the script's minute of margin.
  EXPECT_GT(ttl->integer, 60'000);
  EXPECT_LE(ttl->integer, 60'750);
}

}  // namespace
}  // namespace herald::redis
