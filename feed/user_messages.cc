#include "feed/user_messages.h"

#include "absl/strings/str_cat.h"
#include "feed/feed_store.h"
#include "redis/script.h"

namespace herald::feed {
namespace {

// Lua shared by the chunk scripts: the sets that hold a user's messages.
constexpr char kUserSetsLua[] = R"LUA(
local function message_sets(prefix, user)
  local feed = prefix .. 'feed:' .. user .. ':'
  return {{feed .. 'active', 'z', 1}, {feed .. 'archived', 'z', 1}, {prefix .. 'urecs:' .. user, 's', 0}}
end
local function members(set, limit)
  if limit <= 0 then return {} end
  if set[2] == 'z' then return redis.call('ZRANGE', set[1], 0, limit - 1) end
  return redis.call('SRANDMEMBER', set[1], limit)
end
)LUA";

// ARGV: prefix, user, limit.
const redis::Script kDeleteChunk(absl::StrCat(kUserSetsLua, kFeedScopesLua, R"LUA(
local prefix, user, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local deleted = 0
for _, set in ipairs(message_sets(prefix, user)) do
  local ids = members(set, limit)
  for _, id in ipairs(ids) do
    local key = prefix .. 'msg:' .. id
    local m = redis.call('HMGET', key, 'recipient', 'tenant')
    if set[2] == 'z' and m[2] then
      -- The tenant-scoped sets empty out item by item (Redis drops empty sets).
      local scopes = feed_scopes(prefix, user, m[2])
      for _, name in ipairs({'active', 'unseen', 'unread', 'read', 'archived'}) do
        redis.call('ZREM', scopes[2] .. name, id)
      end
    end
    if m[1] == user then deleted = deleted + redis.call('DEL', key) end
    if set[2] == 'z' then redis.call('ZREM', set[1], id) else redis.call('SREM', set[1], id) end
  end
  limit = limit - #ids
  if limit <= 0 then return {deleted, 1} end
end
local feed = prefix .. 'feed:' .. user .. ':'
deleted = deleted + redis.call('DEL', feed .. 'active', feed .. 'unseen', feed .. 'unread', feed .. 'read',
  feed .. 'archived', feed .. 'meta', prefix .. 'user:' .. user, prefix .. 'prefs:' .. user,
  prefix .. 'chdata:' .. user, prefix .. 'usubs:' .. user, prefix .. 'urecs:' .. user)
return {deleted, 0}
)LUA"));

// ARGV: prefix, user, limit. Reply: flat list of kind (1 feed / 0 record),
// id, fields.
const redis::Script kTakeChunk(absl::StrCat(kUserSetsLua, R"LUA(
local prefix, user, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local out = {}
for _, set in ipairs(message_sets(prefix, user)) do
  local ids = members(set, limit)
  for _, id in ipairs(ids) do
    out[#out + 1] = set[3]
    out[#out + 1] = id
    out[#out + 1] = redis.call('HGETALL', prefix .. 'msg:' .. id)
  end
  limit = limit - #ids
end
return out
)LUA"));

// ARGV: prefix, user, then per message: kind, id, field count, fields...
const redis::Script kAdopt(absl::StrCat(kFeedScopesLua, R"LUA(
local prefix, user = ARGV[1], ARGV[2]
local feed = prefix .. 'feed:' .. user .. ':'
local adopted = 0
local i = 3
while i <= #ARGV do
  local kind, id, n = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local key = prefix .. 'msg:' .. id
  if redis.call('HGET', key, 'recipient') ~= user then
    if n > 0 then redis.call('HSET', key, unpack(ARGV, i + 3, i + 2 + n)) end
    redis.call('HSET', key, 'recipient', user)
    if kind == '1' then
      local seq = redis.call('HINCRBY', feed .. 'meta', 'seq', 1)
      redis.call('HSET', key, 'seq', seq)
      local m = redis.call('HMGET', key, 'seen_at', 'read_at', 'archived_at', 'tenant')
      local scopes = feed_scopes(prefix, user, m[4])
      if m[3] then
        scoped_zadd(scopes, 'archived', seq, id)
      else
        scoped_zadd(scopes, 'active', seq, id)
        if not m[1] then scoped_zadd(scopes, 'unseen', seq, id) end
        if m[2] then scoped_zadd(scopes, 'read', seq, id) else scoped_zadd(scopes, 'unread', seq, id) end
      end
    else
      redis.call('SADD', prefix .. 'urecs:' .. user, id)
    end
    adopted = adopted + 1
  end
  i = i + 3 + n
end
return adopted
)LUA"));

// ARGV: prefix, user, ids...
// ARGV: prefix, user, then per message: id, its tenant.
const redis::Script kRelease(absl::StrCat(kFeedScopesLua, R"LUA(
local prefix, user = ARGV[1], ARGV[2]
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  local scopes = feed_scopes(prefix, user, ARGV[i + 1])
  for _, name in ipairs({'active', 'unseen', 'unread', 'read', 'archived'}) do scoped_zrem(scopes, name, id) end
  redis.call('SREM', prefix .. 'urecs:' .. user, id)
  local key = prefix .. 'msg:' .. id
  if redis.call('HGET', key, 'recipient') == user then redis.call('DEL', key) end
end
return (#ARGV - 2) / 2
)LUA"));

}  // namespace

redis::Command DeleteUserChunkCommand(const Keys& keys, const std::string& user, int limit) {
  return kDeleteChunk.Call({}, {keys.Prefix(), user, std::to_string(limit)});
}

redis::Command TakeChunkCommand(const Keys& keys, const std::string& user, int limit) {
  return kTakeChunk.Call({}, {keys.Prefix(), user, std::to_string(limit)});
}

absl::StatusOr<std::vector<MovedMessage>> ParseTakeChunkReply(const redis::Reply& reply) {
  if (reply.elements.size() % 3 != 0) return absl::InternalError("take chunk: unexpected reply");
  std::vector<MovedMessage> messages;
  for (size_t i = 0; i < reply.elements.size(); i += 3) {
    MovedMessage& message = messages.emplace_back();
    message.in_feed = reply.elements[i].integer == 1;
    message.id = reply.elements[i + 1].str;
    const auto& fields = reply.elements[i + 2].elements;
    for (size_t f = 0; f + 1 < fields.size(); f += 2) {
      // Feed placement is recomputed by the adopting side.
      if (fields[f].str == "seq" || fields[f].str == "recipient") continue;
      message.fields.push_back(fields[f].str);
      message.fields.push_back(fields[f + 1].str);
    }
  }
  return messages;
}

redis::Command AdoptCommand(const Keys& keys, const std::string& user, const std::vector<MovedMessage>& messages) {
  std::vector<std::string> args = {keys.Prefix(), user};
  for (const MovedMessage& message : messages) {
    args.push_back(message.in_feed ? "1" : "0");
    args.push_back(message.id);
    args.push_back(std::to_string(message.fields.size()));
    args.insert(args.end(), message.fields.begin(), message.fields.end());
  }
  return kAdopt.Call({}, args);
}

redis::Command ReleaseCommand(const Keys& keys, const std::string& user, const std::vector<MovedMessage>& messages) {
  std::vector<std::string> args = {keys.Prefix(), user};
  for (const MovedMessage& message : messages) {
    args.push_back(message.id);
    // The tenant travels in the fields (the adopted copy may already say
    // the new owner's partition, so it is read from what was taken).
    std::string tenant;
    for (size_t f = 0; f + 1 < message.fields.size(); f += 2) {
      if (message.fields[f] == "tenant") tenant = message.fields[f + 1];
    }
    args.push_back(tenant);
  }
  return kRelease.Call({}, args);
}

}  // namespace herald::feed
