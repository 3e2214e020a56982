// Token buckets in Redis, shared by every replica that takes from them: the
// dispatcher's per-channel delivery rate and the API's per-key and
// per-tenant trigger rates. A bucket is one key (its own hash tag), a take
// is one script call, so replicas never race; time comes from the caller's
// clock. These build the commands and read their replies, so a caller runs
// them on whatever connection it has (a client, the API's async pipeline).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "redis/client.h"

namespace herald::redis {

struct TokenBucketLimit {
  double per_second = 0;  // refill rate, > 0
  double burst = 1;       // capacity, >= 1
};

enum class TakeMode {
  kUpTo,  // grant what is there, up to the number wanted
  kAll,   // grant all wanted or none
};

struct TokenGrant {
  int granted = 0;
  // When fewer than wanted were granted: ms until the next token (kUpTo)
  // or until all wanted are there (kAll).
  int64_t retry_in_ms = 0;
};

// The command taking `wanted` (> 0) tokens from the bucket `key` at `now_ms`;
// its reply is read by ParseTokenGrant.
Command TakeTokensCommand(const std::string& key, const TokenBucketLimit& limit, int64_t now_ms, int wanted,
                          TakeMode mode);

// The command putting back `count` tokens taken for a call that another
// bucket then refused (the bucket never fills past its burst).
Command ReturnTokensCommand(const std::string& key, const TokenBucketLimit& limit, int64_t now_ms, int count);

// INTERNAL when the reply is not the script's.
absl::StatusOr<TokenGrant> ParseTokenGrant(const Reply& reply);

}  // namespace herald::redis
