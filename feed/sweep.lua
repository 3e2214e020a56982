#!lua
-- Retention for a feed that gets no new item (an insert trims its own feed
-- by age, feed/insert_many.lua): removes the items older than the cutoff
-- and, once the feed is empty, every key of it (and a named feed's name
-- from the user's list of feeds). Run by retention/ for each feed its SCAN
-- finds.
--
-- KEYS: [1] the feed's index. ARGV: [1] user, [2] cutoff us (items
-- inserted before it go), [3] feed name ('' or 'main': the main feed).
-- Reply: items removed.
--!include core/keys.lua
--!include feed/feed_layout.lua
local partition = partition_of(KEYS[1])
local user, feed = ARGV[1], ARGV[3] or ''
local fp = feed_prefix(partition, feed)
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2], 'LIMIT', 0, 1000)
remove_items(fp, user, expired)
if redis.call('ZCARD', KEYS[1]) == 0 then
  for _, name in ipairs({'items', 'archived', 'seen_x', 'unseen_x', 'read_x', 'unread_x', 'state', 'meta', 'tenants'}) do
    redis.call('DEL', feed_set_key(fp, user, name))
  end
  if fp ~= partition then redis.call('SREM', feed_set_key(partition, user, 'feeds'), feed) end
end
return #expired
