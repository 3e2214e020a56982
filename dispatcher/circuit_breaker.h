// One circuit breaker per channel (provider endpoint): after `failures`
// consecutive retryable failures the circuit opens and the channel's
// deliveries wait (deferred, not attempted) for `open_ms`; then one probe
// message is let through (half-open): success closes the circuit, failure
// opens it again. A provider that is down is not hammered and its backlog
// costs the other channels nothing. Thread-safe.
#pragma once

#include <cstdint>

#include "absl/synchronization/mutex.h"
#include "core/clock.h"
#include "services/delivery/config.h"

namespace herald::dispatcher {

class CircuitBreaker {
 public:
  CircuitBreaker(const delivery::CircuitPolicy& policy, const Clock& clock) : policy_(policy), clock_(clock) {}

  // How many of `wanted` messages may be attempted now: all when closed,
  // one when a probe is due (half-open), none while open.
  int Admit(int wanted);
  // When the circuit (if open) lets a probe through, in ms of the clock.
  int64_t ReopensAtMs() const;
  // Results of admitted messages: retryable failures count toward opening;
  // any success closes the circuit. Permanent failures (a 400) say the
  // provider is up and reset nothing.
  void Record(int successes, int retryable_failures);
  // A probe Admit let through was not attempted after all (no rate-limit
  // token, a Redis error): the circuit stays open and probes again next time.
  void Abandon();
  bool open() const;

 private:
  enum class State { kClosed, kOpen, kProbing };
  const delivery::CircuitPolicy policy_;
  const Clock& clock_;
  mutable absl::Mutex mutex_;
  State state_ ABSL_GUARDED_BY(mutex_) = State::kClosed;
  int consecutive_failures_ ABSL_GUARDED_BY(mutex_) = 0;
  int64_t open_until_ms_ ABSL_GUARDED_BY(mutex_) = 0;
};

}  // namespace herald::dispatcher
