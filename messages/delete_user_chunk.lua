#!lua
-- Deletes up to `limit` of a user's messages (feed items with their places
-- in tenant-scoped feeds, and records); once none remain, deletes the
-- user's other keys. Bounded, so a large feed never blocks Redis;
-- repeatable after a crash.
--
-- KEYS: [1] feed active, [2] feed unseen, [3] feed unread, [4] feed read,
--       [5] feed archived, [6] feed meta, [7] records set, [8] profile,
--       [9] preferences, [10] channel data, [11] subscriptions set.
-- ARGV: [1] user, [2] limit.
-- Reply: {keys deleted, 1 when more remain else 0}.
--!include core/keys.lua
--!include feed/feed_sets.lua
--!include messages/user_messages.lua
local user, limit = ARGV[1], tonumber(ARGV[2])
local partition = partition_of(KEYS[1])
local deleted = 0
for _, set in ipairs(message_sets(KEYS[1], KEYS[5], KEYS[7])) do
  local ids = some_members(set, limit)
  for _, id in ipairs(ids) do
    local key = message_key(partition, id)
    local m = redis.call('HMGET', key, 'recipient', 'tenant')
    if set[2] == 'z' and m[2] then
      -- The tenant-scoped sets empty out item by item (Redis drops empty sets).
      for _, name in ipairs({'active', 'unseen', 'unread', 'read', 'archived'}) do
        redis.call('ZREM', tenant_feed_set_key(partition, m[2], user, name), id)
      end
    end
    if m[1] == user then deleted = deleted + redis.call('DEL', key) end
    if set[2] == 'z' then redis.call('ZREM', set[1], id) else redis.call('SREM', set[1], id) end
  end
  limit = limit - #ids
  if limit <= 0 then return {deleted, 1} end
end
deleted = deleted + redis.call('DEL', unpack(KEYS))
return {deleted, 0}
