#!lua
-- Removes moved messages from this user: feed items out of their feed
-- (feed/feed_layout.lua), records out of the records set, each record
-- deleted unless it was adopted in place (same partition: it now names the
-- new owner).
--
-- KEYS: [1] the user's records set.
-- ARGV: [1] user, then per message: id, its tenant ('' = none), its feed
--       ('' = main).
-- Reply: messages released.
--!include core/keys.lua
--!include feed/feed_layout.lua
local records = KEYS[1]
local user = ARGV[1]
local partition = partition_of(records)
for i = 2, #ARGV, 3 do
  local id = ARGV[i]
  remove_items(feed_prefix(partition, ARGV[i + 2]), user, {id})
  redis.call('SREM', records, id)
  local key = message_key(partition, id)
  if redis.call('HGET', key, 'recipient') == user then redis.call('DEL', key) end
end
return (#ARGV - 1) / 3
