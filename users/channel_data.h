// Channel data: what a channel needs to reach one user that is not part of
// the profile — push tokens, chat incoming-webhook URLs or channel ids.
// Stored per user in one hash (channel name -> JSON) in the user's
// partition, so deleting a user removes it with the rest.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "redis/client.h"

namespace herald::users {

inline constexpr size_t kMaxChannelDataBytes = 16 * 1024;
inline constexpr size_t kMaxPushTokens = 100;

// The parsed data, or INVALID_ARGUMENT naming the field
// (`data_json.tokens[2]`). Accepted shape: a JSON object; `tokens` (push):
// 1..100 non-empty strings; `connections` (chat): objects with
// `incoming_webhook.url` (http/https) or `channel_id` / `user_id`
// (+ optional `access_token`). Other keys are kept as given.
absl::StatusOr<nlohmann::json> ValidateChannelData(const std::string& data_json);

// INVALID_ARGUMENT naming user_id / channel.
absl::Status ValidateChannelKey(const std::string& user_id, const std::string& channel);

// Whether validated `data` is what a channel of `channel_type` reads:
// push channels need `tokens`, chat channels `connections`.
// INVALID_ARGUMENT naming the missing field.
absl::Status CheckChannelDataFits(const nlohmann::json& data, const std::string& channel,
                                  const std::string& channel_type);

redis::Command SetChannelDataCommand(const std::string& user_id, const std::string& channel,
                                     const std::string& data_json, int partitions);
redis::Command GetChannelDataCommand(const std::string& user_id, const std::string& channel, int partitions);
redis::Command UnsetChannelDataCommand(const std::string& user_id, const std::string& channel, int partitions);

// Merge rule for MergeUsers: the target's data wins, except that push
// tokens and chat connections of both are united (target's first).
nlohmann::json MergeChannelData(const nlohmann::json& into, const nlohmann::json& from);

}  // namespace herald::users
