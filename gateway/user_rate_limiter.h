// The gateway's per-user request rate (--gateway_user_rate): a token bucket
// per user id (rate r per second, burst 2r) held in this process. Kept
// local, not in Redis like the trigger limits: it protects this replica
// from one browser's loop at no round trip per request, and a load balancer
// spreading one user over n replicas allows at most n times the rate.
#pragma once

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "core/clock.h"

namespace herald::gateway {

// Thread-safe.
class UserRateLimiter {
 public:
  // `per_second` 0 = no limit. At most `max_users` buckets are kept: when
  // full, the buckets that have refilled (as good as new) are dropped.
  UserRateLimiter(const Clock& clock, double per_second, size_t max_users = 100'000);

  // Takes one token for `user`: 0 when admitted, else the milliseconds
  // until the next token (>= 1).
  int64_t Take(const std::string& user);

  size_t BucketsForTest() const;

 private:
  struct Bucket {
    double tokens = 0;
    int64_t at_us = 0;
  };
  void DropFullBuckets(int64_t now_us) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const Clock& clock_;
  const double per_second_;
  const double burst_;
  const size_t max_users_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace herald::gateway
