// Every message a user has in Redis, whatever store holds it: message
// hashes and in-app feed items (read through messages/, so a test sees a
// feed item with the same fields as any other message).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "redis/client.h"

namespace herald::testing {

using MessageFields = std::map<std::string, std::string>;

// id -> fields, for the messages addressed to `user`; `all_keys` is every
// key in Redis (KEYS *).
std::map<std::string, MessageFields> StoredMessagesOf(redis::RedisClient& client, const std::vector<std::string>& all_keys,
                                                      const std::string& user);

}  // namespace herald::testing
