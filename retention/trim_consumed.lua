#!lua
-- Trims one stage stream up to what every consumer group has consumed, in
-- one script: the safe point is read and the trim applied with nothing in
-- between (no read, ack, XGROUP CREATE or SETID can land between them).
--
-- Safe point = the smallest, over every group of the stream, of
--   * the successor of the group's last-delivered-id (entries after it were
--     never delivered to the group), and
--   * the group's oldest pending id (delivered, not acknowledged yet).
-- XTRIM MINID removes entries with id < point, so the entry at the point and
-- everything after stay. A stream without any group is not trimmed: nothing
-- has consumed it yet (the group that will read it may start at 0).
--
-- KEYS: [1] the stream.
-- Reply: {entries trimmed, entries left}.
local stream = KEYS[1]
if redis.call('EXISTS', stream) == 0 then return {0, 0} end

-- Entry ids "ms-seq" hold two unsigned 64-bit decimals (no leading zeros):
-- compared as strings by length, then lexicographically, never as Lua
-- numbers (doubles lose digits past 2^53).
local function split(id)
  local dash = string.find(id, '-', 1, true)
  return string.sub(id, 1, dash - 1), string.sub(id, dash + 1)
end
local function less_number(a, b)
  if #a ~= #b then return #a < #b end
  return a < b
end
local function less(a, b)
  local a_ms, a_seq = split(a)
  local b_ms, b_seq = split(b)
  if a_ms ~= b_ms then return less_number(a_ms, b_ms) end
  return less_number(a_seq, b_seq)
end
-- The smallest id after `id`; `id` itself when the sequence is too large to
-- add to exactly (keeping one consumed entry more is always safe).
local function successor(id)
  local ms, seq = split(id)
  if #seq > 15 then return id end
  return ms .. '-' .. string.format('%.0f', tonumber(seq) + 1)
end

local groups = redis.call('XINFO', 'GROUPS', stream)
if #groups == 0 then return {0, redis.call('XLEN', stream)} end
local point = nil
for _, group in ipairs(groups) do
  local name, last, pending
  for i = 1, #group, 2 do
    local field = group[i]
    if field == 'name' then
      name = group[i + 1]
    elseif field == 'last-delivered-id' then
      last = group[i + 1]
    elseif field == 'pending' then
      pending = group[i + 1]
    end
  end
  if name == nil or last == nil or pending == nil then
    return redis.error_reply('HERALD INTERNAL unexpected XINFO GROUPS reply')
  end
  local bound = successor(last)
  if pending > 0 then
    -- Summary form: {count, smallest id, greatest id, consumers}.
    local oldest = redis.call('XPENDING', stream, name)[2]
    if less(oldest, bound) then bound = oldest end
  end
  if point == nil or less(bound, point) then point = bound end
end
local trimmed = redis.call('XTRIM', stream, 'MINID', point)
return {trimmed, redis.call('XLEN', stream)}
