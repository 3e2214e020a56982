#!lua flags=no-writes
-- Reads (without changing anything) up to `limit` of a user's messages
-- with their fields, for moving them to another user: feed items first
-- (feed/feed_layout.lua), then records.
--
-- KEYS: [1] the user's feed index, [2] records set.
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
local feed_ids = redis.call('ZRANGE', KEYS[1], 0, limit - 1)
for _, id in ipairs(feed_ids) do add(1, id, feed_item_fields(partition, user, id) or {}) end
limit = limit - #feed_ids
if limit > 0 then
  for _, id in ipairs(redis.call('SRANDMEMBER', KEYS[2], limit)) do
    add(0, id, redis.call('HGETALL', message_key(partition, id)))
  end
end
return out
