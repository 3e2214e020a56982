#!lua
-- Cancels the pending runs of a cancellation key in one partition: removes
-- their activities from open batches and delays (a batch left empty is
-- deleted and taken off the timer), marks the runs cancelled, and records
-- the cancellation so runs still in flight are stopped when they arrive.
--
-- KEYS: [1] due, [2] the key's index for every recipient ('*'), [3] the
--       key's recipients set, then the key's index of each listed recipient.
-- ARGV: [1] workflow, [2] cancellation key, [3] now ms, [4] how long (ms)
--       the cancellation is remembered, [5] 'all' (every recipient recorded
--       under the key in this partition) or 'listed' (those in KEYS[4..]).
-- Reply: the number of runs cancelled.
--!include core/keys.lua
--!include runs/wait_helpers.lua
local due, everyone, recipients = KEYS[1], KEYS[2], KEYS[3]
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
  for k = 4, #KEYS do indexes[#indexes + 1] = KEYS[k] end
end
local cancelled = 0
for _, index in ipairs(indexes) do
  local pending = redis.call('HGETALL', index)
  for i = 1, #pending, 2 do
    local run_id, batch_id = pending[i], pending[i + 1]
    if run_id ~= '@cancelled_at' then
      local activities = wait_activities_key(partition, batch_id)
      if redis.call('HDEL', activities, run_id) == 1 then
        cancelled = cancelled + 1
        redis.call('HSET', run_key(partition, run_id), 'status', 'cancelled', 'cancelled_at', now)
        if redis.call('HLEN', activities) == 0 then
          local header = wait_header_key(partition, batch_id)
          local wait_key = redis.call('HGET', header, 'wait')
          if wait_key and redis.call('GET', wait_open_key(partition, wait_key)) == batch_id then
            redis.call('DEL', wait_open_key(partition, wait_key))
          end
          redis.call('ZREM', due, batch_id)
          redis.call('DEL', header)
        end
      end
      redis.call('HDEL', index, run_id)
    end
  end
  redis.call('HSET', index, '@cancelled_at', now)
  keep_for(index, remember_ms)
end
return cancelled
