#!lua flags=no-writes
-- One page of a feed, newest first, with its counts.
--
-- KEYS: [1] the user's feed index (whole scope, of the feed listed).
-- ARGV: [1] user, [2] tenant scope ('' = the whole feed), [3] filter (''
--       active, 'unread', 'unseen', 'read', 'archived'), [4] exclusive
--       upper sequence ('' = from the newest), [5] count, [6] feed ('' =
--       main), [7] optional: ids ("\n"-separated) to answer instead of a
--       page (the feed watcher reads inserted items back so), those not in
--       the feed left out.
-- Reply: {unseen count, unread count, active count, {message fields of
--        each item (feed_item_fields) plus 'id'}, the id of the last entry
--        of the partition's feed change stream ('0-0' when empty): the
--        watch cursor of this page}.
--!include core/keys.lua
--!include feed/feed_layout.lua
local partition = partition_of(KEYS[1])
local fp = feed_prefix(partition, ARGV[6])
local user, tenant = ARGV[1], ARGV[2]
local marks = watermarks(fp, user)
local items = {}
local ids
if ARGV[7] and ARGV[7] ~= '' then
  ids = {}
  for id in string.gmatch(ARGV[7], '[^\n]+') do ids[#ids + 1] = id end
else
  ids = scope_ids(fp, user, tenant, marks, ARGV[3], ARGV[4], tonumber(ARGV[5]))
end
for _, id in ipairs(ids) do
  local fields = feed_item_fields(fp, user, id)
  if fields then
    fields[#fields + 1] = 'id'; fields[#fields + 1] = id
    items[#items + 1] = fields
  end
end
local counts = scope_counts(fp, user, tenant, marks)
local last_change = redis.call('XREVRANGE', feed_changes_key(partition), '+', '-', 'COUNT', 1)
return {counts[1], counts[2], counts[3], items, last_change[1] and last_change[1][1] or '0-0'}
