// Retry timers: a due-time ZSET whose due members go back into a stream.
#pragma once

#include <cstdint>
#include <string>

#include "redis/client.h"

namespace herald::redis {

// Moves at most `limit` members of `due` (ZSET member -> due ms) due at
// `now_ms` into `stream` as entries {field: member}, atomically (both keys
// of one partition). The reply is how many moved.
Command MoveDueCommand(const std::string& due, const std::string& stream, const std::string& field, int64_t now_ms,
                       int limit);

}  // namespace herald::redis
