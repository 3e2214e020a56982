-- The sets that hold a user's messages (shared by the chunk scripts): the
-- feed's active and archived sets (every feed item is in one of them) and
-- the records set (messages outside the feed). Entries: {key, kind}, kind
-- 'z' for a sorted set, 's' for a set.
local function message_sets(active, archived, records)
  return {{active, 'z'}, {archived, 'z'}, {records, 's'}}
end
-- Up to `limit` members of one of those sets.
local function some_members(set, limit)
  if limit <= 0 then return {} end
  if set[2] == 'z' then return redis.call('ZRANGE', set[1], 0, limit - 1) end
  return redis.call('SRANDMEMBER', set[1], limit)
end
