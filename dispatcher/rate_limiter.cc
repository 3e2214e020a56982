#include "dispatcher/rate_limiter.h"

#include <algorithm>

#include "core/keys.h"
#include "redis/token_bucket.h"

namespace herald::dispatcher {

absl::StatusOr<Grant> TakeTokens(redis::RedisClient& client, const std::string& channel,
                                 const delivery::RateLimit& limit, int64_t now_ms, int wanted) {
  if (limit.per_second <= 0 || wanted <= 0) return Grant{wanted, 0};
  const redis::TokenBucketLimit bucket{limit.per_second, std::max(limit.burst, 1.0)};
  auto reply = client.Execute(
      redis::TakeTokensCommand(ChannelRateLimitKey(channel), bucket, now_ms, wanted, redis::TakeMode::kUpTo));
  if (!reply.ok()) return reply.status();
  auto grant = redis::ParseTokenGrant(*reply);
  if (!grant.ok()) return grant.status();
  return Grant{grant->granted, grant->retry_in_ms};
}

}  // namespace herald::dispatcher
