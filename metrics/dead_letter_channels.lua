#!lua flags=no-writes
-- Counts one partition's dead letters by channel for the metrics: the total
-- exactly, and the channel (name and type, from the message record) of the
-- oldest ARGV[1] of them; the rest, and those whose record has expired,
-- count under an empty channel. Bounded work per call however long the
-- dead-letter set grows (an empty set, the usual case, costs one ZCARD).
--
-- KEYS: [1] the dead-letter ZSET. ARGV: [1] how many records to read at most.
-- Reply: {total, channel, channel type, count, ...}.
--!include core/keys.lua
local dead = KEYS[1]
local total = redis.call('ZCARD', dead)
if total == 0 then return {0} end
local partition = partition_of(dead)
local counts, names, looked = {}, {}, 0
for _, id in ipairs(redis.call('ZRANGE', dead, 0, tonumber(ARGV[1]) - 1)) do
  local record = redis.call('HMGET', message_key(partition, id), 'channel', 'channel_type')
  local channel, channel_type = record[1] or '', record[2] or ''
  local key = channel .. '\n' .. channel_type
  if not counts[key] then
    counts[key] = 0
    names[#names + 1] = {channel, channel_type, key}
  end
  counts[key] = counts[key] + 1
  looked = looked + 1
end
local reply = {total}
for _, name in ipairs(names) do
  reply[#reply + 1], reply[#reply + 2], reply[#reply + 3] = name[1], name[2], counts[name[3]]
end
if total > looked then
  reply[#reply + 1], reply[#reply + 2], reply[#reply + 3] = '', '', total - looked
end
return reply
