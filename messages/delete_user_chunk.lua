#!lua
-- Deletes up to `limit` of a user's messages (feed items of the main feed,
-- then of each named feed, then records); once none remain, deletes the
-- user's other keys and every feed's keys. Bounded, so a large feed never
-- blocks Redis; repeatable after a crash.
--
-- KEYS: [1] the user's (main) feed index, [2] records set, [3] profile,
--       [4] preferences, [5] channel data, [6] subscriptions set.
-- ARGV: [1] user, [2] limit.
-- Reply: {messages and keys deleted, 1 when more remain else 0}.
--!include core/keys.lua
--!include feed/feed_layout.lua
local user, limit = ARGV[1], tonumber(ARGV[2])
local partition = partition_of(KEYS[1])
local feeds_key = feed_set_key(partition, user, 'feeds')
local prefixes = {partition}
for _, feed in ipairs(redis.call('SMEMBERS', feeds_key)) do prefixes[#prefixes + 1] = feed_prefix(partition, feed) end
local deleted = 0
for _, fp in ipairs(prefixes) do
  local feed_ids = redis.call('ZRANGE', feed_set_key(fp, user, 'index'), 0, limit - 1)
  remove_items(fp, user, feed_ids)
  deleted = deleted + #feed_ids
  limit = limit - #feed_ids
  if limit <= 0 then return {deleted, 1} end
end
local records = KEYS[2]
local ids = redis.call('SRANDMEMBER', records, limit)
for _, id in ipairs(ids) do
  local key = message_key(partition, id)
  if redis.call('HGET', key, 'recipient') == user then deleted = deleted + redis.call('DEL', key) end
  redis.call('SREM', records, id)
end
if #ids >= limit then return {deleted, 1} end
local feed_keys = {feeds_key}
for _, fp in ipairs(prefixes) do
  for _, name in ipairs({'items', 'index', 'archived', 'seen_x', 'unseen_x', 'read_x', 'unread_x', 'state', 'meta',
                         'tenants'}) do
    feed_keys[#feed_keys + 1] = feed_set_key(fp, user, name)
  end
end
deleted = deleted + redis.call('DEL', unpack(KEYS)) + redis.call('DEL', unpack(feed_keys))
return {deleted, 0}
