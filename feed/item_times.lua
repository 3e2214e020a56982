#!lua flags=no-writes
-- For tools: accepted/inserted times and tenant of a user's newest items.
-- KEYS: [1] the user's active set, [2] archived set. ARGV: [1] count.
-- Reply: flat {accepted_at_us, inserted_at_us, tenant, item, ...}, newest first.
--!include core/keys.lua
local partition = partition_of(KEYS[1])
local out = {}
for _, set in ipairs({KEYS[1], KEYS[2]}) do
  for _, id in ipairs(redis.call('ZREVRANGE', set, 0, tonumber(ARGV[1]) - 1)) do
    local m = redis.call('HMGET', message_key(partition, id), 'accepted_at_us', 'inserted_at_us', 'tenant', 'item')
    out[#out + 1] = m[1] or '0'; out[#out + 1] = m[2] or '0'; out[#out + 1] = m[3] or ''; out[#out + 1] = m[4] or ''
  end
end
return out
