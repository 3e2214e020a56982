// Recipients: validation of user input, the Redis commands that upsert and
// read a user, and a short-lived per-worker cache for the hot path.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/clock.h"
#include "core/ttl_cache.h"
#include "herald/v1/herald.pb.h"
#include "nlohmann/json.hpp"
#include "redis/client.h"
#include "redis/script.h"

namespace herald::users {

inline constexpr size_t kMaxIdBytes = 256;
inline constexpr size_t kMaxFieldBytes = 1024;
inline constexpr size_t kMaxPropertiesBytes = 16 * 1024;

// OK, or INVALID_ARGUMENT naming `field_prefix`.field ("recipients[2].id").
absl::Status ValidateId(const std::string& id, const std::string& field);
absl::Status ValidateInlineUser(const v1::InlineUser& user, const std::string& field_prefix);

// ARGV fragment read by users/upsert_user.lua (shared by the identify and
// trigger scripts): the number of pairs, then the pairs.
void AppendUserArgs(const v1::InlineUser& user, std::vector<std::string>* args);

// Upserts `user` at `key` (all its properties replace the old ones).
redis::Command IdentifyCommand(const std::string& key, const v1::InlineUser& user, int64_t now_ms);

// HGETALL reply -> User; NOT_FOUND when the hash was empty.
absl::StatusOr<v1::User> UserFromReply(const std::string& id, const redis::Reply& reply);

// The template view of a user: standard fields plus custom properties at
// the top level (`recipient.plan`), `id` always set.
nlohmann::json UserJson(const v1::User& user);

// Fetches users for a worker with one pipelined round trip per call and
// keeps about `capacity` of them for `ttl` (identify changes show up within
// it); a TtlCache, so every user of a read stays findable. Not thread-safe:
// one per worker.
class UserCache {
 public:
  // Whether Prefetch also reads channel data (one more HGETALL per miss):
  // the fan-out needs it for push/chat, the batcher never does.
  enum class ChannelData { kSkip, kLoad };

  UserCache(const Clock& clock, int partitions, ChannelData channel_data = ChannelData::kSkip,
            int64_t ttl_micros = 2'000'000, size_t capacity = 20'000)
      : partitions_(partitions),
        load_channel_data_(channel_data == ChannelData::kLoad),
        entries_(clock, ttl_micros, capacity) {}

  // Starts a read of `ids`: loads every id not cached (or stale), and keeps
  // every id of the read findable until the next Prefetch (see TtlCache).
  // Unknown users are cached as absent. UNAVAILABLE etc. when Redis fails.
  absl::Status Prefetch(redis::RedisClient& client, const std::vector<std::string>& ids);

  // The user's JSON, or nullptr when the user does not exist (or was not
  // prefetched).
  const nlohmann::json* Find(const std::string& id) const;

  // The user's channel data for `channel` (see channel_data.h), or nullptr
  // (always nullptr for a cache built with ChannelData::kSkip).
  const nlohmann::json* FindChannelData(const std::string& id, const std::string& channel) const;

 private:
  struct Entry {
    std::optional<nlohmann::json> user;  // nullopt = unknown user
    // channel -> data; nullopt when the user has none.
    std::optional<nlohmann::json> channel_data;
  };
  const int partitions_;
  const bool load_channel_data_;
  TtlCache<Entry> entries_;
};

}  // namespace herald::users
