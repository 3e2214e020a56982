#!lua
-- Claims the waits due at `now`: takes each off the timer, turns it into
-- one entry of the batches stream of its lane (its header with every
-- activity; the lane its opening run came through, header field 'l') and
-- deletes it, in one script, so an activity is either in its open batch or
-- in exactly one flushed entry, never both and never neither.
--
-- KEYS: [1] due (ZSET batch id -> due ms), [2] the batches stream, [3] its
--       bulk lane.
-- ARGV: [1] now ms, [2] how many waits to take at most.
-- Reply: {waits taken off the timer, entries written (empty waits write none),
--        {due ms, activities, kind ('b' batch | 'd' delay), ...} per entry
--        written} (the flusher's lateness and batch-size metrics).
--!include core/keys.lua
--!include runs/wait_helpers.lua
local due, batches, batches_bulk = KEYS[1], KEYS[2], KEYS[3]
local now, limit = ARGV[1], tonumber(ARGV[2])
local partition = partition_of(due)
local waits = redis.call('ZRANGEBYSCORE', due, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
local emitted, flushed = 0, {}
for w = 1, #waits, 2 do
  local batch_id, due_ms = waits[w], waits[w + 1]
  redis.call('ZREM', due, batch_id)
  local header, activities = wait_header_key(partition, batch_id), wait_activities_key(partition, batch_id)
  local stored = redis.call('HMGET', header, 'h', 'wait', 'k', 'l')
  local collected = redis.call('HVALS', activities)
  redis.call('DEL', header, activities)
  -- A batch that closed by its window: the next activity opens a new one.
  if stored[2] then
    local open = wait_open_key(partition, stored[2])
    if redis.call('GET', open) == batch_id then redis.call('DEL', open) end
  end
  if stored[1] and #collected > 0 then
    -- Waits opened before lanes existed have no 'l': the normal lane.
    local stream = batches
    if stored[4] == '1' then stream = batches_bulk end
    redis.call('XADD', stream, '*', 's', envelope_with(stored[1], collected))
    emitted = emitted + 1
    -- Waits opened before kinds were recorded count as batches.
    local n = #flushed
    flushed[n + 1], flushed[n + 2], flushed[n + 3] = tonumber(due_ms), #collected, stored[3] or 'b'
  end
end
return {#waits / 2, emitted, flushed}
