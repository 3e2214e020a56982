// When a retryable delivery is tried again: exponential backoff with jitter,
// never sooner than the provider asked (Retry-After), never later than the
// policy's cap. Pure: the random source is passed in.
#pragma once

#include <cstdint>

#include "absl/random/bit_gen_ref.h"
#include "services/delivery/config.h"

namespace herald::dispatcher {

// Delay before attempt `attempt + 1`, after attempt `attempt` (1-based)
// failed: initial × 2^(attempt−1), capped at max, times a jitter factor in
// [0.8, 1.2]; at least `retry_after_ms` (the provider's Retry-After, which
// the cap does not shorten).
int64_t RetryDelayMs(const delivery::RetryPolicy& policy, int attempt, int64_t retry_after_ms, absl::BitGenRef random);

}  // namespace herald::dispatcher
