#include "redis/token_bucket.h"

#include "absl/strings/str_cat.h"
#include "redis/script.h"
#include "redis/token_bucket.lua.h"

namespace herald::redis {
namespace {

const Script kTokenBucket(lua::kRedisTokenBucket);

Command Call(const std::string& key, const TokenBucketLimit& limit, int64_t now_ms, int wanted, const char* mode) {
  return kTokenBucket.Call({key}, {std::to_string(now_ms), absl::StrCat(limit.per_second), absl::StrCat(limit.burst),
                                   std::to_string(wanted), mode});
}

}  // namespace

Command TakeTokensCommand(const std::string& key, const TokenBucketLimit& limit, int64_t now_ms, int wanted,
                          TakeMode mode) {
  return Call(key, limit, now_ms, wanted, mode == TakeMode::kAll ? "all" : "some");
}

Command ReturnTokensCommand(const std::string& key, const TokenBucketLimit& limit, int64_t now_ms, int count) {
  return Call(key, limit, now_ms, -count, "some");
}

absl::StatusOr<TokenGrant> ParseTokenGrant(const Reply& reply) {
  if (reply.elements.size() != 2) return absl::InternalError("token bucket: unexpected reply");
  return TokenGrant{static_cast<int>(reply.elements[0].integer), reply.elements[1].integer};
}

}  // namespace herald::redis
