#!lua flags=no-writes
-- One page of a feed, newest first, with its counts.
--
-- KEYS: [1] the set to page (active, unread, unseen, read or archived, of
--       the whole feed or of one tenant), [2] active, [3] unseen,
--       [4] unread (same scope).
-- ARGV: [1] exclusive upper sequence ('' = from the newest), [2] count.
-- Reply: {unseen count, unread count, active count, {HGETALL of each item}}.
--!include core/keys.lua
local partition = partition_of(KEYS[1])
local max = '+inf'
if ARGV[1] ~= '' then max = '(' .. ARGV[1] end
local ids = redis.call('ZREVRANGEBYSCORE', KEYS[1], max, '-inf', 'LIMIT', 0, tonumber(ARGV[2]))
local items = {}
for i, id in ipairs(ids) do items[i] = redis.call('HGETALL', message_key(partition, id)) end
return {redis.call('ZCARD', KEYS[3]), redis.call('ZCARD', KEYS[4]), redis.call('ZCARD', KEYS[2]), items}
