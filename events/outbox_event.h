// The events of the outbound event webhooks as the worker handles them:
// parsing an outbox entry (an event a script appended, or a retry the
// worker put back), the retry envelope kept on the due timer, and what a
// POST's result means for the event. Pure: no I/O, tested without Redis.
#pragma once

#include <cstdint>
#include <string>

#include "absl/random/bit_gen_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/delivery/config.h"
#include "services/delivery/delivery_service.h"

namespace herald::events {

// One event on its way to the event webhook.
struct OutboxEvent {
  // "evt_<partition>_<outbox entry id of its first try>": stable across
  // retries, the POST's Idempotency-Key and the body's "id".
  std::string id;
  // POSTs already made (0 for an event fresh from a script).
  int attempts = 0;
  // The JSON POSTed: the script's event with "id" added.
  std::string body;
  // From the event, for the Delivery the provider sees.
  std::string type;
  std::string message_id;
  std::string recipient;
  std::string workflow;
  std::string tenant;
};

// Parses the outbox field 'e' of entry `entry_id` of `partition`'s outbox:
// either an event a script wrote (a JSON object with "type") or a retry
// envelope written by RetryEnvelope ({"id", "attempts", "event"}).
// INVALID_ARGUMENT when it is neither (a poison entry: dropped, counted).
absl::StatusOr<OutboxEvent> ParseOutboxEntry(absl::string_view payload, int partition, absl::string_view entry_id);

// The due-timer member (and later outbox payload) of `event` once
// `event.attempts` POSTs were made: {"id", "attempts", "event"}.
std::string RetryEnvelope(const OutboxEvent& event);

// The webhook Delivery that POSTs `event` through `channel` (its attempt
// number is event.attempts + 1).
delivery::Delivery DeliveryFor(const OutboxEvent& event, const std::string& channel);

enum class Verdict {
  kDelivered,  // 2xx: done
  kRetry,      // retryable failure: on the due timer until due_ms
  kFailed,     // permanent failure (4xx but 429, bad request): dropped
  kExhausted,  // retryable, but that was the policy's last attempt: dropped
};

struct Decision {
  Verdict verdict = Verdict::kFailed;
  int64_t due_ms = 0;  // kRetry
};

// What `result` of POST number `attempt` (1-based) means: like a delivery
// (dispatcher/backoff.h: exponential backoff with jitter, never before the
// receiver's Retry-After).
Decision Decide(const delivery::Result& result, int attempt, const delivery::RetryPolicy& policy, int64_t now_ms,
                absl::BitGenRef random);

}  // namespace herald::events
