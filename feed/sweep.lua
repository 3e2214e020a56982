#!lua
-- Retention for a feed that gets no new item (an insert trims its own feed
-- by age, feed/insert_many.lua): removes the items older than the cutoff
-- and, once the feed is empty, every key of it. Run by retention/ for each
-- feed its SCAN finds.
--
-- KEYS: [1] the user's feed index. ARGV: [1] user, [2] cutoff us (items
-- inserted before it go).
-- Reply: items removed.
--!include core/keys.lua
--!include feed/feed_layout.lua
local partition = partition_of(KEYS[1])
local user = ARGV[1]
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2], 'LIMIT', 0, 1000)
remove_items(partition, user, expired)
if redis.call('ZCARD', KEYS[1]) == 0 then
  for _, name in ipairs({'items', 'archived', 'seen_x', 'unseen_x', 'read_x', 'unread_x', 'state', 'meta', 'tenants'}) do
    redis.call('DEL', feed_set_key(partition, user, name))
  end
end
return #expired
