#!lua flags=no-writes
-- For tools: items (active and archived) in the feeds given.
-- KEYS: per user: the feed's index (feed/feed_layout.lua). Reply: the sum.
local n = 0
for _, key in ipairs(KEYS) do n = n + redis.call('ZCARD', key) end
return n
