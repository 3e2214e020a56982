#include "redis/move_due.h"

#include "redis/move_due.lua.h"
#include "redis/script.h"

namespace herald::redis {
namespace {

const Script kMoveDue(lua::kRedisMoveDue);

}  // namespace

Command MoveDueCommand(const std::string& due, const std::string& stream, const std::string& field, int64_t now_ms,
                       int limit) {
  return kMoveDue.Call({due, stream}, {std::to_string(now_ms), std::to_string(limit), field});
}

}  // namespace herald::redis
