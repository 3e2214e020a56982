#!lua flags=no-writes
-- Reads (without changing anything) up to `limit` of a user's messages
-- with their fields, for moving them to another user.
--
-- KEYS: [1] feed active, [2] feed archived, [3] records set.
-- ARGV: [1] limit.
-- Reply: flat list of kind (1 feed item, 0 record), id, HGETALL fields.
--!include core/keys.lua
--!include messages/user_messages.lua
local limit = tonumber(ARGV[1])
local partition = partition_of(KEYS[1])
local out = {}
for _, set in ipairs(message_sets(KEYS[1], KEYS[2], KEYS[3])) do
  local ids = some_members(set, limit)
  for _, id in ipairs(ids) do
    out[#out + 1] = set[2] == 'z' and 1 or 0
    out[#out + 1] = id
    out[#out + 1] = redis.call('HGETALL', message_key(partition, id))
  end
  limit = limit - #ids
end
return out
