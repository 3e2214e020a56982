#!lua flags=no-writes
-- Reads one partition's message log newest first (feed items from their
-- user's feed), below a position, and
-- answers the messages that pass the filters (their hash fields). Scans at
-- most `budget` messages; messages that expired are skipped.
--
-- Log entries (messages/message_log.lua): 'm' id (one message); 'm' id 'u'
-- user (one feed item, written before feed inserts logged per call); 's'
-- seq 'u' "user\nuser..." (the feed items of one insert call: the k-th
-- listed user's item has sequence seq + k - 1 in their feed, found by its
-- score in their feed index; with 'f' "feed\nfeed..." too, the k-th listed
-- feed is the one its item is in, 'main' for the main feed). An entry of several items is read newest
-- (last listed) first, so a position may point inside it: 'ms-seq:k' means
-- "its items listed before k, then the entries below".
--
-- KEYS: [1] the partition's message log.
-- ARGV: [1] position ('' = from the newest, 'ms-seq' = below that entry,
--       'ms-seq:k' = below item k of that entry), [2] scan budget
--       (messages), [3] matches wanted, then the filters
--       ('' / '0' = any): [4] recipient, [5] workflow, [6] workflow run id,
--       [7] channel type, [8] status, [9] tenant, [10] inserted at or after
--       (us), [11] inserted before (us).
-- Reply: {position of the last message scanned ('' = none), 1 when no
--        message remains below it else 0, {{its position, message id,
--        HGETALL of the message}...}}.
--!include core/keys.lua
--!include feed/feed_layout.lua
local log = KEYS[1]
local partition = partition_of(log)
local budget, want = tonumber(ARGV[2]), tonumber(ARGV[3])
local equal = {ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]}
local after_us, before_us = tonumber(ARGV[10]), tonumber(ARGV[11])
local last, matches = '', {}
local scanned = 0
-- Why the scan stopped: nil (log read out below the position), 'full',
-- 'budget'.
local stop = nil

-- Considers one message at `position`; sets `stop` when the page is full.
local function consider(position, id, fields)
  scanned = scanned + 1
  last = position
  local by_name = {}
  for f = 1, #fields, 2 do by_name[fields[f]] = fields[f + 1] end
  local m = {by_name.recipient or false, by_name.workflow, by_name.workflow_run_id, by_name.channel_type,
             by_name.status, by_name.tenant, by_name.inserted_at_us}
  local pass = m[1] ~= false
  for f = 1, 6 do
    if pass and equal[f] ~= '' and m[f] ~= equal[f] then pass = false end
  end
  if pass then
    local at = tonumber(m[7]) or 0
    if (after_us > 0 and at < after_us) or (before_us > 0 and at >= before_us) then pass = false end
  end
  if pass then
    matches[#matches + 1] = {position, id, fields}
    if #matches >= want then stop = 'full' end
  end
end

-- Reads the messages of `entry` newest first, those listed before `below`
-- only when given. Returns true when it stopped with messages of the entry
-- left unread.
local function scan_entry(entry, below)
  local f = entry[2]
  if f[1] == 's' then
    local users, feeds = {}, {}
    for user in string.gmatch(f[4], '[^\n]+') do users[#users + 1] = user end
    if f[5] == 'f' then
      for feed in string.gmatch(f[6], '[^\n]+') do feeds[#feeds + 1] = feed end
    end
    local first = tonumber(f[2])
    local k = #users
    if below and below - 1 < k then k = below - 1 end
    while k >= 1 do
      if scanned >= budget then
        stop = 'budget'
        return true
      end
      local user = users[k]
      local fp = feed_prefix(partition, feeds[k])
      local seq = string.format('%d', first + k - 1)
      local ids = redis.call('ZRANGEBYSCORE', feed_set_key(fp, user, 'index'), seq, seq, 'LIMIT', '0', '1')
      local fields = {}
      if ids[1] then fields = feed_item_fields(fp, user, ids[1]) or {} end
      consider(entry[1] .. ':' .. k, ids[1] or '', fields)
      k = k - 1
      if stop then return k >= 1 end
    end
    return false
  end
  if scanned >= budget then
    stop = 'budget'
    return true
  end
  local id = f[2]
  local fields
  -- A feed item's entry names its user ('u'): it lives in their feed.
  if f[3] == 'u' then
    fields = feed_item_fields(partition, f[4], id) or {}
  else
    fields = redis.call('HGETALL', message_key(partition, id))
  end
  consider(entry[1], id, fields)
  return false
end

local max = '+'
local left_inside = false  -- stopped with messages of an entry left
if ARGV[1] ~= '' then
  local entry_id, below = string.match(ARGV[1], '^(%d+%-%d+):(%d+)$')
  if entry_id then
    local entry = redis.call('XRANGE', log, entry_id, entry_id)
    if entry[1] then left_inside = scan_entry(entry[1], tonumber(below)) end
    max = '(' .. entry_id
  else
    max = '(' .. ARGV[1]
  end
end
local read_out = false
while not stop do
  local count = budget - scanned
  if count <= 0 then
    stop = 'budget'
    break
  end
  local entries = redis.call('XREVRANGE', log, max, '-', 'COUNT', count)
  for _, entry in ipairs(entries) do
    left_inside = scan_entry(entry, nil)
    if stop then break end
    max = '(' .. entry[1]
  end
  if not stop and #entries < count then read_out = true end
  if #entries == 0 then break end
end
local exhausted = 0
if read_out then exhausted = 1 end
-- A full page that ended on the last message: say so, so the last page of
-- a walk is not followed by an empty one.
if stop == 'full' and not left_inside then
  local entry_id = string.match(last, '^(%d+%-%d+)')
  if #redis.call('XREVRANGE', log, '(' .. entry_id, '-', 'COUNT', 1) == 0 then exhausted = 1 end
end
return {last, exhausted, matches}
