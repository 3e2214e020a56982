#include "dispatcher/circuit_breaker.h"

namespace herald::dispatcher {

int CircuitBreaker::Admit(int wanted) {
  absl::MutexLock lock(&mutex_);
  if (state_ == State::kClosed) return wanted;
  if (state_ == State::kOpen && clock_.NowMillis() >= open_until_ms_ && wanted > 0) {
    state_ = State::kProbing;
    return 1;
  }
  return 0;  // open, or a probe is already out
}

int64_t CircuitBreaker::ReopensAtMs() const {
  absl::MutexLock lock(&mutex_);
  return state_ == State::kOpen ? open_until_ms_ : clock_.NowMillis() + 1000;
}

void CircuitBreaker::Record(int successes, int retryable_failures) {
  absl::MutexLock lock(&mutex_);
  if (successes > 0) {
    state_ = State::kClosed;
    consecutive_failures_ = 0;
    return;
  }
  if (retryable_failures == 0) {
    // Only permanent failures: the provider answered. A probe that got one
    // proves it is up.
    if (state_ == State::kProbing) state_ = State::kClosed;
    return;
  }
  consecutive_failures_ += retryable_failures;
  const bool trips = policy_.failures > 0 && consecutive_failures_ >= policy_.failures;
  if (state_ == State::kProbing || trips) {
    state_ = State::kOpen;
    open_until_ms_ = clock_.NowMillis() + policy_.open_ms;
  }
}

void CircuitBreaker::Abandon() {
  absl::MutexLock lock(&mutex_);
  if (state_ == State::kProbing) state_ = State::kOpen;  // open_until_ms_ has passed: the next Admit probes
}

bool CircuitBreaker::open() const {
  absl::MutexLock lock(&mutex_);
  return state_ != State::kClosed;
}

}  // namespace herald::dispatcher
