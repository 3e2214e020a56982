#include "dispatcher/rate_limiter.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/keys.h"
#include "dispatcher/token_bucket.lua.h"
#include "redis/script.h"

namespace herald::dispatcher {
namespace {

const redis::Script kTokenBucket(lua::kDispatcherTokenBucket);

}  // namespace

absl::StatusOr<Grant> TakeTokens(redis::RedisClient& client, const std::string& channel,
                                 const delivery::RateLimit& limit, int64_t now_ms, int wanted) {
  if (limit.per_second <= 0 || wanted <= 0) return Grant{wanted, 0};
  const double burst = std::max(limit.burst, 1.0);
  auto reply = client.Execute(kTokenBucket.Call(
      {ChannelRateLimitKey(channel)},
      {std::to_string(now_ms), absl::StrCat(limit.per_second), absl::StrCat(burst), std::to_string(wanted)}));
  if (!reply.ok()) return reply.status();
  if (reply->elements.size() != 2) return absl::InternalError("token bucket: unexpected reply");
  return Grant{static_cast<int>(reply->elements[0].integer), reply->elements[1].integer};
}

}  // namespace herald::dispatcher
