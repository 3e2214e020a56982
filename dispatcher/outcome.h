// What a delivery service's result means for the message: the record the
// dispatcher writes (messages/delivery_state.h). Pure.
#pragma once

#include "absl/random/bit_gen_ref.h"
#include "messages/delivery_state.h"
#include "services/delivery/config.h"
#include "services/delivery/delivery_service.h"

namespace herald::dispatcher {

// `attempt` is the attempt that produced `result` (1-based). A retryable
// result at the policy's last attempt is a failure ("retries exhausted").
messages::DeliveryRecord RecordFor(const delivery::Result& result, int attempt, const delivery::RetryPolicy& policy,
                                   int64_t now_ms, absl::BitGenRef random);

// Not an attempt: the message waits until `due_ms` (rate limit, open
// circuit, a full lane, shutdown).
messages::DeliveryRecord Deferral(const std::string& message_id, int64_t due_ms);

// A message that cannot be attempted at all (no channel configured for its
// type, content that does not decode): undelivered with `reason`.
messages::DeliveryRecord Undeliverable(const std::string& message_id, std::string reason);

}  // namespace herald::dispatcher
