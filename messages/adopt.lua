#!lua
-- Writes messages taken from another user into this user's feed and
-- records: new feed sequence numbers, the same seen/read/archived state.
-- A message already adopted (a repeat after a crash) is skipped.
--
-- KEYS: [1] the user's feed meta, [2] the user's records set.
-- ARGV: [1] user, then per message: kind ('1' feed item, '0' record), id,
--       field count, fields...
-- Reply: messages adopted.
--!include core/keys.lua
--!include feed/feed_sets.lua
local meta, records = KEYS[1], KEYS[2]
local user = ARGV[1]
local partition = partition_of(meta)
local adopted = 0
local i = 2
while i <= #ARGV do
  local kind, id, n = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local key = message_key(partition, id)
  if redis.call('HGET', key, 'recipient') ~= user then
    if n > 0 then redis.call('HSET', key, unpack(ARGV, i + 3, i + 2 + n)) end
    redis.call('HSET', key, 'recipient', user)
    if kind == '1' then
      local seq = redis.call('HINCRBY', meta, 'seq', 1)
      redis.call('HSET', key, 'seq', seq)
      local m = redis.call('HMGET', key, 'seen_at', 'read_at', 'archived_at', 'tenant')
      if m[3] then
        feed_zadd(partition, user, m[4], 'archived', seq, id)
      else
        feed_zadd(partition, user, m[4], 'active', seq, id)
        if not m[1] then feed_zadd(partition, user, m[4], 'unseen', seq, id) end
        if m[2] then feed_zadd(partition, user, m[4], 'read', seq, id) else feed_zadd(partition, user, m[4], 'unread', seq, id) end
      end
    else
      redis.call('SADD', records, id)
    end
    adopted = adopted + 1
  end
  i = i + 3 + n
end
return adopted
