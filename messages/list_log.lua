#!lua flags=no-writes
-- Reads one partition's message log newest first (feed items from their
-- user's feed), below a position, and
-- answers the messages that pass the filters (their hash fields). Scans at
-- most `budget` entries; entries whose message expired are skipped.
--
-- KEYS: [1] the partition's message log.
-- ARGV: [1] position ('' = from the newest, else an entry id: continue
--       below it), [2] scan budget, [3] matches wanted, then the filters
--       ('' / '0' = any): [4] recipient, [5] workflow, [6] workflow run id,
--       [7] channel type, [8] status, [9] tenant, [10] inserted at or after
--       (us), [11] inserted before (us).
-- Reply: {last entry scanned ('' = none), 1 when no entry remains below
--        it else 0, {{entry id, message id, HGETALL of the message}...}}.
--!include core/keys.lua
--!include feed/feed_layout.lua
local log = KEYS[1]
local partition = partition_of(log)
local max = '+'
if ARGV[1] ~= '' then max = '(' .. ARGV[1] end
local budget, want = tonumber(ARGV[2]), tonumber(ARGV[3])
local equal = {ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]}
local after_us, before_us = tonumber(ARGV[10]), tonumber(ARGV[11])
local entries = redis.call('XREVRANGE', log, max, '-', 'COUNT', budget)
local last, matches, full = '', {}, false
for _, entry in ipairs(entries) do
  last = entry[1]
  local id = entry[2][2]
  -- A feed item's entry names its user ('u'): it lives in their feed.
  local fields
  if entry[2][3] == 'u' then
    fields = feed_item_fields(partition, entry[2][4], id) or {}
  else
    fields = redis.call('HGETALL', message_key(partition, id))
  end
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
    matches[#matches + 1] = {entry[1], id, fields}
    if #matches >= want then
      full = true
      break
    end
  end
end
local exhausted = 0
if not full and #entries < budget then exhausted = 1 end
-- A full page that ended on the last entry: say so, so the last page of a
-- walk is not followed by an empty one.
if full and #redis.call('XREVRANGE', log, '(' .. last, '-', 'COUNT', 1) == 0 then exhausted = 1 end
return {last, exhausted, matches}
