#!lua
-- Appends one run's activity to the wait (batch or delay) of its step, in
-- one script (DESIGN.md "Batching protocol"): dedupe the run's step, honour
-- a recorded cancellation, join the open batch or open one, move a sliding
-- close time (never past the cap, never earlier), close the batch when it
-- reaches max activities (so the next activity opens a new one), or send the
-- leading item at once.
--
-- KEYS: [1] due (ZSET batch id -> due ms), [2] the run's record, [3] the
--       batches stream of the run's lane (the leading item goes there),
--       [4] the wait key's open-batch pointer; with a
--       cancellation key also [5] its index for this recipient, [6] its index
--       for every recipient ('*'), [7] its recipients set.
-- ARGV: [1] wait key, [2] batch id to use if this append opens the batch,
--       [3] header (BatchEnvelope without activities), [4] run id, [5] step,
--       [6] activity, [7] accepted at ms, [8] now ms, [9] window ms,
--       [10] max window ms, [11] sliding '1'/'0', [12] max activities (0 = no
--       cap), [13] flush leading '1'/'0', [14] leading BatchEnvelope,
--       [15] recipient, [16] how long (ms) run and cancellation records
--       outlive the wait's latest due time, [17] kind: 'b' batch, 'd' delay
--       (kept in the header for the flusher's metrics), [18] '1' when the
--       run is in the bulk lane ('' normal): kept in the header as 'l' (only
--       for bulk, so normal waits store nothing more) so the claim flushes
--       the wait into the same lane.
-- Reply: 'opened' | 'joined' | 'leading' | 'duplicate' | 'cancelled'.
--!include core/keys.lua
--!include runs/wait_helpers.lua
local due, run, batches, open = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local cancel_mine, cancel_everyone, cancel_recipients = KEYS[5], KEYS[6], KEYS[7]
local wait_key, proposed_id, header_blob, run_id, step, activity = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local accepted, now, window, max_window = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local sliding, max_activities, leading, leading_blob = ARGV[11] == '1', tonumber(ARGV[12]), ARGV[13] == '1', ARGV[14]
local recipient, records_outlive_ms, kind, bulk = ARGV[15], tonumber(ARGV[16]), ARGV[17], ARGV[18] == '1'
local partition = partition_of(due)
-- The run's records live as long as the wait can: a cancel on day 80 of a
-- 90-day delay must still find the run.
local records_ms = math.max(window, max_window) + records_outlive_ms

if redis.call('HSETNX', run, 's' .. step, now) == 0 then return 'duplicate' end
keep_for(run, records_ms)
if cancel_mine then
  local at = tonumber(redis.call('HGET', cancel_mine, '@cancelled_at') or '-1')
  local at_everyone = tonumber(redis.call('HGET', cancel_everyone, '@cancelled_at') or '-1')
  if (at >= 0 and at >= accepted) or (at_everyone >= 0 and at_everyone >= accepted) then
    redis.call('HSET', run, 'status', 'cancelled', 'cancelled_at', now)
    return 'cancelled'
  end
end

local batch_id = redis.call('GET', open)
local opening = not batch_id
if opening then
  batch_id = proposed_id
  -- A batch opened before open pointers existed is keyed by its wait key:
  -- taken over once (it then names its wait key like any other batch).
  local legacy = wait_header_key(partition, wait_key)
  if redis.call('EXISTS', legacy) == 1 and redis.call('HEXISTS', legacy, 'wait') == 0 then
    batch_id = wait_key
    opening = false
    redis.call('HSET', legacy, 'wait', wait_key)
  end
  redis.call('SET', open, batch_id)
end
local header, activities = wait_header_key(partition, batch_id), wait_activities_key(partition, batch_id)
if opening then
  if bulk then
    redis.call('HSET', header, 'h', header_blob, 'opened', now, 'wait', wait_key, 'k', kind, 'l', '1')
  else
    redis.call('HSET', header, 'h', header_blob, 'opened', now, 'wait', wait_key, 'k', kind)
  end
  redis.call('ZADD', due, now + window, batch_id)
  if leading then
    redis.call('XADD', batches, '*', 's', leading_blob)
    redis.call('HSET', run, 'status', 'flushed')
    return 'leading'
  end
end
if cancel_mine then
  redis.call('HSET', cancel_mine, run_id, batch_id)
  keep_for(cancel_mine, records_ms)
  redis.call('SADD', cancel_recipients, recipient)
  keep_for(cancel_recipients, records_ms)
end
redis.call('HSET', run, 'status', 'waiting', 'wait', batch_id)
redis.call('HSET', activities, run_id, with_sequence(activity, redis.call('HINCRBY', header, 'n', 1)))
if max_activities > 0 and redis.call('HLEN', activities) >= max_activities then
  -- Full: closed here, so no activity can join it between now and its claim.
  redis.call('DEL', open)
  redis.call('ZADD', due, now, batch_id)
elseif sliding and not opening then
  local opened = tonumber(redis.call('HGET', header, 'opened'))
  redis.call('ZADD', due, 'XX', 'GT', math.min(now + window, opened + max_window), batch_id)
end
if opening then return 'opened' end
return 'joined'
