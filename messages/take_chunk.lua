#!lua flags=no-writes
-- Reads (without changing anything) up to `limit` of a user's messages
-- with their fields, for moving them to another user: feed items first
-- (feed/feed_layout.lua; the main feed, then each named feed, whose items
-- carry the field 'feed' naming it), then records.
--
-- KEYS: [1] the user's (main) feed index, [2] records set.
-- ARGV: [1] limit, [2] user.
-- Reply: flat list of kind (1 feed item, 0 record), id, message fields.
--!include core/keys.lua
--!include feed/feed_layout.lua
local limit, user = tonumber(ARGV[1]), ARGV[2]
local partition = partition_of(KEYS[1])
local out = {}
local function add(kind, id, fields)
  out[#out + 1] = kind; out[#out + 1] = id; out[#out + 1] = fields
end
local feeds = {''}
for _, feed in ipairs(redis.call('SMEMBERS', feed_set_key(partition, user, 'feeds'))) do feeds[#feeds + 1] = feed end
for _, feed in ipairs(feeds) do
  local fp = feed_prefix(partition, feed)
  local feed_ids = redis.call('ZRANGE', feed_set_key(fp, user, 'index'), 0, limit - 1)
  for _, id in ipairs(feed_ids) do
    local fields = feed_item_fields(fp, user, id) or {}
    if feed ~= '' then fields[#fields + 1] = 'feed'; fields[#fields + 1] = feed end
    add(1, id, fields)
  end
  limit = limit - #feed_ids
  if limit <= 0 then return out end
end
for _, id in ipairs(redis.call('SRANDMEMBER', KEYS[2], limit)) do
  add(0, id, redis.call('HGETALL', message_key(partition, id)))
end
return out
