#!lua
-- Claims the waits due at `now`: takes each off the timer, turns it into
-- one entry of the batches stream (its header with every activity) and
-- deletes it, in one script, so an activity is either in its open batch or
-- in exactly one flushed entry, never both and never neither.
--
-- KEYS: [1] due (ZSET batch id -> due ms), [2] the batches stream.
-- ARGV: [1] now ms, [2] how many waits to take at most.
-- Reply: {waits taken off the timer, entries written (empty waits write none)}.
--!include core/keys.lua
--!include runs/wait_helpers.lua
local due, batches = KEYS[1], KEYS[2]
local now, limit = ARGV[1], tonumber(ARGV[2])
local partition = partition_of(due)
local waits = redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, limit)
local emitted = 0
for _, batch_id in ipairs(waits) do
  redis.call('ZREM', due, batch_id)
  local header, activities = wait_header_key(partition, batch_id), wait_activities_key(partition, batch_id)
  local stored = redis.call('HMGET', header, 'h', 'wait')
  local collected = redis.call('HVALS', activities)
  redis.call('DEL', header, activities)
  -- A batch that closed by its window: the next activity opens a new one.
  if stored[2] then
    local open = wait_open_key(partition, stored[2])
    if redis.call('GET', open) == batch_id then redis.call('DEL', open) end
  end
  if stored[1] and #collected > 0 then
    redis.call('XADD', batches, '*', 's', envelope_with(stored[1], collected))
    emitted = emitted + 1
  end
end
return {#waits, emitted}
