// Deleting and merging users: operations that touch several partitions
// (the user's own, their objects', the merge target's) and page through
// feeds of any size. Each step is idempotent, so a failed call can be
// repeated and finishes the job; nothing of a user is left behind.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "herald/v1/herald.pb.h"
#include "redis/client.h"

namespace herald::api {

// Removes everything of `user_id`; returns the number of keys removed
// (0 for an unknown user).
absl::StatusOr<int64_t> DeleteUser(redis::RedisClient& client, const std::string& user_id, int partitions);

// Folds `from_user_id` into `user_id` (see MergeUsersRequest) and deletes
// it. NOT_FOUND naming from_user_id when there is nothing to merge.
absl::StatusOr<v1::User> MergeUsers(redis::RedisClient& client, const std::string& user_id,
                                    const std::string& from_user_id, int partitions, int64_t now_ms);

}  // namespace herald::api
