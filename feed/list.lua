#!lua flags=no-writes
-- One page of a feed, newest first, with its counts.
--
-- KEYS: [1] the user's feed index (whole scope).
-- ARGV: [1] user, [2] tenant scope ('' = the whole feed), [3] filter (''
--       active, 'unread', 'unseen', 'read', 'archived'), [4] exclusive
--       upper sequence ('' = from the newest), [5] count.
-- Reply: {unseen count, unread count, active count, {message fields of
--        each item (feed_item_fields) plus 'id'}}.
--!include core/keys.lua
--!include feed/feed_layout.lua
local partition = partition_of(KEYS[1])
local user, tenant = ARGV[1], ARGV[2]
local marks = watermarks(partition, user)
local items = {}
for i, id in ipairs(scope_ids(partition, user, tenant, marks, ARGV[3], ARGV[4], tonumber(ARGV[5]))) do
  local fields = feed_item_fields(partition, user, id)
  fields[#fields + 1] = 'id'; fields[#fields + 1] = id
  items[i] = fields
end
local counts = scope_counts(partition, user, tenant, marks)
return {counts[1], counts[2], counts[3], items}
