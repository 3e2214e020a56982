#include "gateway/user_rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace herald::gateway {

UserRateLimiter::UserRateLimiter(const Clock& clock, double per_second, size_t max_users)
    : clock_(clock), per_second_(per_second), burst_(std::max(1.0, 2 * per_second)), max_users_(max_users) {}

int64_t UserRateLimiter::Take(const std::string& user) {
  if (per_second_ <= 0) return 0;
  const int64_t now_us = clock_.NowMicros();
  absl::MutexLock lock(&mu_);
  auto it = buckets_.find(user);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_users_) DropFullBuckets(now_us);
    it = buckets_.emplace(user, Bucket{burst_, now_us}).first;
  }
  Bucket& bucket = it->second;
  bucket.tokens = std::min(burst_, bucket.tokens + (now_us - bucket.at_us) * per_second_ / 1e6);
  bucket.at_us = now_us;
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return 0;
  }
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil((1 - bucket.tokens) * 1000 / per_second_)));
}

void UserRateLimiter::DropFullBuckets(int64_t now_us) {
  absl::erase_if(buckets_, [&](const auto& entry) {
    return entry.second.tokens + (now_us - entry.second.at_us) * per_second_ / 1e6 >= burst_;
  });
}

size_t UserRateLimiter::BucketsForTest() const {
  absl::MutexLock lock(&mu_);
  return buckets_.size();
}

}  // namespace herald::gateway
