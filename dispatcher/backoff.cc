#include "dispatcher/backoff.h"

#include <algorithm>
#include <cmath>

#include "absl/random/distributions.h"

namespace herald::dispatcher {

int64_t RetryDelayMs(const delivery::RetryPolicy& policy, int attempt, int64_t retry_after_ms,
                     absl::BitGenRef random) {
  const int doublings = std::clamp(attempt - 1, 0, 40);
  const double exponential = static_cast<double>(policy.initial_backoff_ms) * std::ldexp(1.0, doublings);
  const double capped = std::min(exponential, static_cast<double>(policy.max_backoff_ms));
  // Jitter spreads the retries of a provider outage so they do not return
  // as one burst when it recovers.
  const double jittered = capped * absl::Uniform(random, 0.8, 1.2);
  return std::max(static_cast<int64_t>(jittered), retry_after_ms);
}

}  // namespace herald::dispatcher
