// The event worker's pure parts: outbox entries and retry envelopes, and
// what a POST's result means (no Redis, no HTTP).
#include "events/outbox_event.h"

#include "absl/random/random.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace herald::events {
namespace {

constexpr const char* kScriptEvent =
    R"({"type":"message.sent","message_id":"m1","recipient":"rita","workflow":"digest","tenant":"acme",)"
    R"("channel_type":"email","status":"sent","at_us":"1700000000000001"})";

TEST(OutboxEventTest, AScriptEventGetsAnIdFromItsPartitionAndEntry) {
  auto event = ParseOutboxEntry(kScriptEvent, 3, "1700000000000-0");
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->id, "evt_3_1700000000000-0");
  EXPECT_EQ(event->attempts, 0);
  EXPECT_EQ(event->type, "message.sent");
  EXPECT_EQ(event->message_id, "m1");
  EXPECT_EQ(event->recipient, "rita");
  const auto body = nlohmann::json::parse(event->body);
  EXPECT_EQ(body["id"], "evt_3_1700000000000-0");
  EXPECT_EQ(body["at_us"], "1700000000000001");  // a string: exact microseconds
  EXPECT_EQ(body["tenant"], "acme");
}

TEST(OutboxEventTest, ARetryEnvelopeKeepsTheIdBodyAndAttempts) {
  auto first = ParseOutboxEntry(kScriptEvent, 0, "1-0");
  ASSERT_TRUE(first.ok());
  first->attempts = 2;
  auto again = ParseOutboxEntry(RetryEnvelope(*first), 0, "99-0");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->id, first->id);
  EXPECT_EQ(again->attempts, 2);
  EXPECT_EQ(nlohmann::json::parse(again->body), nlohmann::json::parse(first->body));
  EXPECT_EQ(DeliveryFor(*again, "event_webhook").attempt(), 3);
  EXPECT_EQ(DeliveryFor(*again, "event_webhook").content().webhook().body_json(), again->body);
}

TEST(OutboxEventTest, MalformedEntriesAreRefused) {
  for (const char* payload : {"", "[]", "not json", R"({"message_id":"m"})", R"({"event":{"type":"x"}})",
                              R"({"event":3,"attempts":1,"id":"e"})"}) {
    EXPECT_EQ(ParseOutboxEntry(payload, 0, "1-0").status().code(), absl::StatusCode::kInvalidArgument) << payload;
  }
}

delivery::Result ResultOf(delivery::v1::Outcome outcome, int64_t retry_after_ms = 0) {
  delivery::Result result;
  result.set_outcome(outcome);
  result.set_retry_after_ms(retry_after_ms);
  return result;
}

TEST(OutboxEventTest, DecisionsFollowTheDeliveryRetryPolicy) {
  absl::BitGen random;
  delivery::RetryPolicy policy;
  policy.max_attempts = 3;
  policy.initial_backoff_ms = 1000;
  policy.max_backoff_ms = 10'000;
  EXPECT_EQ(Decide(ResultOf(delivery::v1::OUTCOME_DELIVERED), 1, policy, 0, random).verdict, Verdict::kDelivered);
  EXPECT_EQ(Decide(ResultOf(delivery::v1::OUTCOME_FAILED), 1, policy, 0, random).verdict, Verdict::kFailed);
  const Decision retry = Decide(ResultOf(delivery::v1::OUTCOME_RETRY), 2, policy, 5000, random);
  EXPECT_EQ(retry.verdict, Verdict::kRetry);
  EXPECT_GE(retry.due_ms, 5000 + 1600);  // 2 s ± 20%
  EXPECT_LE(retry.due_ms, 5000 + 2400);
  const Decision after = Decide(ResultOf(delivery::v1::OUTCOME_RETRY, 60'000), 1, policy, 0, random);
  EXPECT_EQ(after.due_ms, 60'000);  // Retry-After wins, even above the cap
  EXPECT_EQ(Decide(ResultOf(delivery::v1::OUTCOME_RETRY), 3, policy, 0, random).verdict, Verdict::kExhausted);
}

}  // namespace
}  // namespace herald::events
