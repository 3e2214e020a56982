#!lua flags=no-writes
-- For tools: items (active and archived) in the feeds given.
-- KEYS: per user: active set, archived set. Reply: the sum.
local n = 0
for _, key in ipairs(KEYS) do n = n + redis.call('ZCARD', key) end
return n
