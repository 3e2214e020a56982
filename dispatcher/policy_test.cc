// The dispatcher's pure decisions: backoff bounds, what a result means for
// the message, and the circuit breaker's states, with a simulated clock.
#include <random>

#include "absl/random/random.h"
#include "dispatcher/backoff.h"
#include "dispatcher/circuit_breaker.h"
#include "dispatcher/outcome.h"
#include "gtest/gtest.h"

namespace herald::dispatcher {
namespace {

using messages::DeliveryRecord;

delivery::Result ResultOf(delivery::v1::Outcome outcome, std::string status = "", int64_t retry_after_ms = 0) {
  delivery::Result result;
  result.set_message_id("m1");
  result.set_outcome(outcome);
  result.set_status(std::move(status));
  result.set_retry_after_ms(retry_after_ms);
  result.set_provider_status("http 503");
  return result;
}

TEST(BackoffTest, DoublesWithinJitterBoundsAndStopsAtTheCap) {
  delivery::RetryPolicy policy;  // 15 s doubling, cap 30 min
  absl::BitGen random;
  for (int attempt = 1; attempt <= 12; ++attempt) {
    const double expected = std::min(15'000.0 * (1 << (attempt - 1)), 1'800'000.0);
    for (int sample = 0; sample < 200; ++sample) {
      const int64_t delay = RetryDelayMs(policy, attempt, 0, random);
      EXPECT_GE(delay, static_cast<int64_t>(expected * 0.8)) << "attempt " << attempt;
      EXPECT_LE(delay, static_cast<int64_t>(expected * 1.2) + 1) << "attempt " << attempt;
    }
  }
}

TEST(BackoffTest, DefaultPolicySpreadsEightAttemptsOverAboutHalfAnHour) {
  delivery::RetryPolicy policy;
  std::mt19937 fixed(7);
  int64_t total_ms = 0;
  for (int attempt = 1; attempt < policy.max_attempts; ++attempt) total_ms += RetryDelayMs(policy, attempt, 0, fixed);
  // 15 s × (2^7 − 1) = 31.75 min before jitter.
  EXPECT_GT(total_ms, 25 * 60'000);
  EXPECT_LT(total_ms, 39 * 60'000);
}

TEST(BackoffTest, RetryAfterIsHonouredEvenAboveTheCap) {
  delivery::RetryPolicy policy;
  policy.max_backoff_ms = 1000;
  absl::BitGen random;
  EXPECT_EQ(RetryDelayMs(policy, 1, 120'000, random), 120'000);
  EXPECT_LE(RetryDelayMs(policy, 1, 10, random), 1200);
}

TEST(OutcomeTest, DeliveredIsSentUnlessTheProviderConfirmsDelivery) {
  absl::BitGen random;
  EXPECT_EQ(RecordFor(ResultOf(delivery::v1::OUTCOME_DELIVERED), 1, {}, 0, random).status, "sent");
  EXPECT_EQ(RecordFor(ResultOf(delivery::v1::OUTCOME_DELIVERED, "delivered"), 1, {}, 0, random).status, "delivered");
  DeliveryRecord record = RecordFor(ResultOf(delivery::v1::OUTCOME_DELIVERED), 3, {}, 0, random);
  EXPECT_EQ(record.outcome, DeliveryRecord::Outcome::kDelivered);
  EXPECT_EQ(record.attempt, 3);
}

TEST(OutcomeTest, PermanentFailuresStopAtOnceAndBouncesStayBounces) {
  absl::BitGen random;
  DeliveryRecord failed = RecordFor(ResultOf(delivery::v1::OUTCOME_FAILED), 1, {}, 0, random);
  EXPECT_EQ(failed.outcome, DeliveryRecord::Outcome::kFailed);
  EXPECT_EQ(failed.status, "undelivered");
  EXPECT_EQ(RecordFor(ResultOf(delivery::v1::OUTCOME_FAILED, "bounced"), 1, {}, 0, random).status, "bounced");
}

TEST(OutcomeTest, RetryableFailuresRetryUntilTheLastAttempt) {
  absl::BitGen random;
  delivery::RetryPolicy policy;
  policy.max_attempts = 3;
  DeliveryRecord second = RecordFor(ResultOf(delivery::v1::OUTCOME_RETRY, "", 5000), 2, policy, 1'000'000, random);
  EXPECT_EQ(second.outcome, DeliveryRecord::Outcome::kRetry);
  EXPECT_GE(second.due_ms, 1'000'000 + 30'000 * 0.8);  // 15 s doubled once, at least Retry-After
  DeliveryRecord last = RecordFor(ResultOf(delivery::v1::OUTCOME_RETRY), 3, policy, 0, random);
  EXPECT_EQ(last.outcome, DeliveryRecord::Outcome::kFailed);
  EXPECT_EQ(last.status, "undelivered");
  EXPECT_EQ(last.reason, "retries exhausted after 3 attempts: http 503");
}

TEST(OutcomeTest, AnUnknownOutcomeFromAForeignServiceIsRetried) {
  absl::BitGen random;
  EXPECT_EQ(RecordFor(ResultOf(delivery::v1::OUTCOME_UNSPECIFIED), 1, {}, 0, random).outcome,
            DeliveryRecord::Outcome::kRetry);
}

TEST(CircuitBreakerTest, OpensAfterConsecutiveFailuresProbesThenCloses) {
  SimulatedClock clock(1'000'000'000);
  CircuitBreaker breaker({/*failures=*/3, /*open_ms=*/30'000}, clock);
  EXPECT_EQ(breaker.Admit(10), 10);
  breaker.Record(0, 2);
  EXPECT_FALSE(breaker.open());
  breaker.Record(0, 1);
  ASSERT_TRUE(breaker.open());
  EXPECT_EQ(breaker.Admit(10), 0);
  EXPECT_EQ(breaker.ReopensAtMs(), clock.NowMillis() + 30'000);
  clock.AdvanceMillis(30'000);
  EXPECT_EQ(breaker.Admit(10), 1);  // one probe
  EXPECT_EQ(breaker.Admit(10), 0);  // while it is out, nothing else
  breaker.Record(1, 0);
  EXPECT_FALSE(breaker.open());
  EXPECT_EQ(breaker.Admit(10), 10);
}

TEST(CircuitBreakerTest, AFailedProbeOpensAgainAndPermanentFailuresDoNotTrip) {
  SimulatedClock clock(0);
  CircuitBreaker breaker({2, 1000}, clock);
  breaker.Record(0, 0);  // a batch of 400s: the provider is up
  breaker.Record(0, 0);
  EXPECT_FALSE(breaker.open());
  breaker.Record(0, 2);
  ASSERT_TRUE(breaker.open());
  clock.AdvanceMillis(1000);
  ASSERT_EQ(breaker.Admit(5), 1);
  breaker.Record(0, 1);
  EXPECT_TRUE(breaker.open());
  EXPECT_EQ(breaker.Admit(5), 0);
  EXPECT_EQ(breaker.ReopensAtMs(), clock.NowMillis() + 1000);
}

TEST(CircuitBreakerTest, AProbeThatWasNotAttemptedLeavesTheCircuitOpenToProbeAgain) {
  SimulatedClock clock(0);
  CircuitBreaker breaker({1, 1000}, clock);
  breaker.Record(0, 1);
  clock.AdvanceMillis(1000);
  ASSERT_EQ(breaker.Admit(3), 1);
  breaker.Abandon();  // e.g. the rate limit had no token for it
  EXPECT_TRUE(breaker.open());
  EXPECT_EQ(breaker.Admit(3), 1) << "stuck probing: the channel would never send again";
}

TEST(CircuitBreakerTest, SuccessResetsTheFailureCount) {
  SimulatedClock clock(0);
  CircuitBreaker breaker({3, 1000}, clock);
  breaker.Record(0, 2);
  breaker.Record(1, 0);
  breaker.Record(0, 2);
  EXPECT_FALSE(breaker.open());
}

}  // namespace
}  // namespace herald::dispatcher
