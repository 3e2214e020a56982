// A channel's rate limit, shared by every replica: a token bucket in Redis
// (one key per channel, one script per take).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "redis/client.h"
#include "services/delivery/config.h"

namespace herald::dispatcher {

struct Grant {
  int granted = 0;
  // When fewer than wanted were granted: ms until the next token.
  int64_t retry_in_ms = 0;
};

// Takes up to `wanted` tokens of `channel` at `now_ms`. A channel without a
// limit grants everything without touching Redis.
absl::StatusOr<Grant> TakeTokens(redis::RedisClient& client, const std::string& channel,
                                 const delivery::RateLimit& limit, int64_t now_ms, int wanted);

}  // namespace herald::dispatcher
