// Dead letters: messages whose delivery failed for good (a permanent
// failure or the last attempt), kept per partition in score (death) order
// with their attempt history, until an operator replays or purges them.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "herald/v1/herald.pb.h"
#include "redis/client.h"

namespace herald::messages {

// A page of dead letters, oldest first, merged over every partition.
// `after` is a previous page's next_cursor (INVALID_ARGUMENT naming `after`
// when it is not one); `channel` (optional) filters.
absl::StatusOr<v1::ListDeadLettersResponse> ListDeadLetters(redis::RedisClient& client, int partitions,
                                                            const v1::ListDeadLettersRequest& request);

// Replays (queued again for a fresh round of attempts) or purges (dropped
// from the dead-letter set; the message record stays until it expires) the
// dead letters `selection` names; returns how many. Each dead letter is
// taken by one caller only: concurrent replays queue a message once.
absl::StatusOr<int64_t> ReplayDeadLetters(redis::RedisClient& client, int partitions,
                                          const v1::DeadLetterSelection& selection, int64_t now_us);
absl::StatusOr<int64_t> PurgeDeadLetters(redis::RedisClient& client, int partitions,
                                         const v1::DeadLetterSelection& selection, int64_t now_us);

// The attempts among a message's events (JSON strings, oldest first).
std::vector<v1::DeliveryAttempt> AttemptsFromEvents(const std::vector<std::string>& events);

}  // namespace herald::messages
