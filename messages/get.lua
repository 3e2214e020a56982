#!lua flags=no-writes
-- A message's fields: its hash, or for an in-app message (which lives in
-- its user's feed, feed/feed_layout.lua) the same fields read from there:
-- the main feed first, then the user's named feeds.
--
-- KEYS: [1] the message hash. ARGV: [1] the recipient ('' = unknown: the
-- hash only), [2] message id, [3] '1' to answer only the state fields.
-- Reply: HGETALL-style fields (empty when there is no such message), or
-- with ARGV[3] = '1': {status, seen_at, read_at, interacted_at,
-- link_clicked_at, archived_at} (nil where unset).
--!include core/keys.lua
--!include feed/feed_layout.lua
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 and ARGV[1] ~= '' then
  local partition = partition_of(KEYS[1])
  fields = feed_item_fields(partition, ARGV[1], ARGV[2])
  if not fields then
    for _, feed in ipairs(redis.call('SMEMBERS', feed_set_key(partition, ARGV[1], 'feeds'))) do
      fields = feed_item_fields(feed_prefix(partition, feed), ARGV[1], ARGV[2])
      if fields then break end
    end
  end
  fields = fields or {}
end
if ARGV[3] ~= '1' then return fields end
local by_name = {}
for i = 1, #fields, 2 do by_name[fields[i]] = fields[i + 1] end
local out = {}
for i, name in ipairs({'status', 'seen_at', 'read_at', 'interacted_at', 'link_clicked_at', 'archived_at'}) do
  out[i] = by_name[name] or false
end
return out
