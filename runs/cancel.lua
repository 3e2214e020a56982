#!lua
-- Cancels the pending runs of a cancellation key in one partition: removes
-- their activities from open batches and delays (a wait left empty is
-- deleted and taken off the timer), marks the runs cancelled, and records
-- the cancellation so runs still in flight are stopped when they arrive.
-- Reads every wait layout (runs/WAIT_LAYOUT.md). A batch closed at its
-- cap is due now and no longer open: its earlier activities are not
-- searched (they go out, as they would a moment later).
--
-- KEYS: [1] the timer, [2] an older Herald's timer, [3] the partition's
--       inline waits of batches, [4] of delays, [5] the key's index for
--       every recipient ('*'), [6] the key's recipients set, then the key's
--       index of each listed recipient.
-- ARGV: [1] workflow, [2] cancellation key, [3] now ms, [4] how long (ms)
--       the cancellation is remembered, [5] 'all' (every recipient recorded
--       under the key in this partition) or 'listed' (those in KEYS[7..]).
-- Reply: the number of runs cancelled.
--!include core/keys.lua
--!include runs/wait_helpers.lua
local due, older_due, waits, delays, everyone, recipients = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local workflow, cancellation_key, now, remember_ms, mode = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local partition = partition_of(due)
local indexes = {}
if mode == 'all' then
  for _, recipient in ipairs(redis.call('SMEMBERS', recipients)) do
    indexes[#indexes + 1] = cancel_index_key(partition, workflow, cancellation_key, recipient)
  end
  redis.call('HSET', everyone, '@cancelled_at', now)
  keep_for(everyone, remember_ms)
else
  for k = 7, #KEYS do indexes[#indexes + 1] = KEYS[k] end
end

-- Takes `run_id`'s activity out of the wait at `place` (a wait key or batch
-- id); true when it was there.
local function take_out(place, run_id)
  for _, hash in ipairs({waits, delays}) do
    local stored = redis.call('HGET', hash, place)
    if stored then
      if inline_run(stored) == run_id then
        redis.call('HDEL', hash, place)
        redis.call('ZREM', due, place)
        return true
      end
      return false
    end
  end
  local batch, older = wait_header_key(partition, place), wait_activities_key(partition, place)
  if redis.call('HDEL', batch, run_id) == 0 and redis.call('HDEL', older, run_id) == 0 then return false end
  if batch_activity_count(batch, older) == 0 and redis.call('HLEN', older) == 0 then
    local wait_key = redis.call('HGET', batch, 'wait')
    if wait_key and redis.call('GET', wait_open_key(partition, wait_key)) == place then
      redis.call('DEL', wait_open_key(partition, wait_key))
    end
    redis.call('ZREM', due, place)
    redis.call('ZREM', older_due, place)
    redis.call('DEL', batch, older)
  end
  return true
end

local cancelled = 0
for _, index in ipairs(indexes) do
  local pending = redis.call('HGETALL', index)
  for i = 1, #pending, 2 do
    local run_id, place = pending[i], pending[i + 1]
    if run_id ~= '@cancelled_at' then
      if take_out(place, run_id) then
        cancelled = cancelled + 1
        redis.call('HSET', run_key(partition, run_id), 'status', 'cancelled', 'cancelled_at', now)
      end
      redis.call('HDEL', index, run_id)
    end
  end
  redis.call('HSET', index, '@cancelled_at', now)
  keep_for(index, remember_ms)
end
return cancelled
