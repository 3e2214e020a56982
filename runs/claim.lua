#!lua
-- Claims the waits due at `now`: takes each off the timer, turns it into
-- one entry of the batches stream of its lane (its header with every
-- activity; the bulk lane when the header says `bulk`, or an older
-- layout's batch hash has 'l') and
-- deletes it, in one script, so an activity is either in its open batch or
-- in exactly one flushed entry, never both and never neither. The run of a
-- flushed one-activity wait is remembered (runs/wait_helpers.lua
-- remember_appended; a batch hash's runs are since they joined), so a
-- replayed append stays a duplicate. Reads every wait layout
-- (runs/WAIT_LAYOUT.md).
--
-- KEYS: [1] the timer (ZSET wait -> due ms), [2] the batches stream, [3]
--       the partition's inline waits (HASH) of batches, [4] of delays, [5]
--       an older Herald's timer (its waits are claimed too, until none is
--       left), [6] the batches stream's bulk lane.
-- ARGV: [1] now ms, [2] how many waits to take at most, [3] how long (ms)
--       the flushed runs' records live.
-- Reply: {waits taken off the timer, entries written (empty waits write none),
--        {due ms, activities, kind ('b' batch | 'd' delay), ...} per entry
--        written} (the flusher's lateness and batch-size metrics).
--!include core/keys.lua
--!include runs/wait_helpers.lua
local due, batches, waits, delays, older_due, batches_bulk = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local now, limit, records_ms = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local partition = partition_of(due)

-- Off the timers in a few calls, not one per wait.
local places, due_times = {}, {}
for _, timer in ipairs({due, older_due}) do
  local taken = redis.call('ZRANGEBYSCORE', timer, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
  local first = #places + 1
  for w = 1, #taken, 2 do
    places[#places + 1], due_times[#due_times + 1] = taken[w], taken[w + 1]
  end
  for from = first, #places, 1000 do
    redis.call('ZREM', timer, unpack(places, from, math.min(from + 999, #places)))
  end
end
if #places == 0 then return {0, 0, {}} end

-- Out of the inline waits (a wait there is in one of them at most).
local inline, kinds = {}, {}
for _, hash in ipairs({waits, delays}) do
  local kind = hash == delays and 'd' or 'b'
  for first = 1, #places, 1000 do
    local last = math.min(first + 999, #places)
    local stored = redis.call('HMGET', hash, unpack(places, first, last))
    local found = false
    for i = 1, #stored do
      if stored[i] then
        inline[first + i - 1], kinds[first + i - 1], found = stored[i], kind, true
      end
    end
    if found then redis.call('HDEL', hash, unpack(places, first, last)) end
  end
end

local emitted, flushed = 0, {}
local function flushed_wait(due_ms, activities, kind)
  emitted = emitted + 1
  local n = #flushed
  flushed[n + 1], flushed[n + 2], flushed[n + 3] = tonumber(due_ms), activities, kind
end

for i, place in ipairs(places) do
  local due_ms, stored = due_times[i], inline[i]
  if stored then
    local run_id, header_at = inline_run(stored)
    if run_id then
      local cancellation_key, bulk = proto_fields(stored, header_at, 6, 8)
      redis.call('XADD', bulk == 1 and batches_bulk or batches, '*', 's', stored)
      -- (a run with a cancellation key, the header's, has its record)
      if cancellation_key == nil then
        remember_appended(partition, run_id, step_of(stored, header_at), records_ms)
      end
      flushed_wait(due_ms, 1, kinds[i])
    end
  else
    -- A batch hash; an older layout's activities hash too.
    local batch, older = wait_header_key(partition, place), wait_activities_key(partition, place)
    local fields = redis.call('HGETALL', batch)
    local meta, activities = {}, {}
    for f = 1, #fields, 2 do
      if batch_header_fields[fields[f]] then
        meta[fields[f]] = fields[f + 1]
      else
        activities[#activities + 1] = fields[f + 1]
      end
    end
    for _, activity in ipairs(redis.call('HVALS', older)) do activities[#activities + 1] = activity end
    redis.call('DEL', batch, older)
    -- A batch that closed by its window: the next activity opens a new one.
    if meta.wait then
      local open = wait_open_key(partition, meta.wait)
      if redis.call('GET', open) == place then redis.call('DEL', open) end
    end
    if meta.h and #activities > 0 then
      -- (the runs of a batch hash have had their records since they joined)
      -- Waits opened before lanes existed have neither: the normal lane.
      local bulk = meta.l == '1' or proto_field(meta.h, 8) == 1
      redis.call('XADD', bulk and batches_bulk or batches, '*', 's', envelope_with(meta.h, activities))
      -- Waits opened before kinds were recorded count as batches.
      flushed_wait(due_ms, #activities, meta.k or 'b')
    end
  end
end
return {#places, emitted, flushed}
