#!lua
-- Appends one run's activity to the wait (batch or delay) of its step, in
-- one script (DESIGN.md "Batching protocol"): dedupe the run's step, honour
-- a recorded cancellation, join the open batch or open one, move a sliding
-- close time (never past the cap, never earlier), close the batch when it
-- reaches max activities (so the next activity opens a new one), or send the
-- leading item at once. Where a wait lives: runs/WAIT_LAYOUT.md.
--
-- KEYS: [1] the timer (ZSET wait -> due ms), [2] the run's record, [3] the batches
--       stream of the run's lane (the leading item goes there), [4] the partition's inline waits of this kind (HASH: waits
--       for a batch, delays for a delay), [5] the wait key's
--       batch hash, [6] the wait key's open pointer (older layout, read
--       only to join a batch an older Herald opened), [7] the run's
--       appended-at-this-step record, [8] the older Herald's timer (that
--       batch's); with a cancellation key also [9] its index for this
--       recipient, [10] its index for every recipient ('*'), [11] its
--       recipients set.
-- ARGV: [1] wait key, [2] batch id to use if this append opens the batch,
--       [3] header (BatchEnvelope without activities; its resume_step is
--       step + 1, its one target's batch_id is ARGV[2]; `bulk` set when the
--       run is in the bulk lane, so the wait it opens flushes there — runs
--       that join follow the wait's lane), [4] run id, [5]
--       step, [6] activity (its run_id is ARGV[4]), [7] accepted at ms, [8]
--       now ms, [9] window ms, [10] max window ms, [11] sliding '1'/'0',
--       [12] max activities (0 = no cap), [13] flush leading '1'/'0', [14]
--       leading BatchEnvelope, [15] recipient, [16] how long (ms) run and
--       cancellation records outlive the wait's latest due time.
-- Reply: 'opened' | 'joined' | 'leading' | 'duplicate' | 'cancelled'.
--!include core/keys.lua
--!include runs/wait_helpers.lua
local due, run, batches, inline_waits, batch, open = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local appended, older_due = KEYS[7], KEYS[8]
local cancel_mine, cancel_everyone, cancel_recipients = KEYS[9], KEYS[10], KEYS[11]
local wait_key, proposed_id, header_blob, run_id, step, activity = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local accepted, now, window, max_window = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local sliding, max_activities, leading, leading_blob = ARGV[11] == '1', tonumber(ARGV[12]), ARGV[13] == '1', ARGV[14]
local recipient, records_outlive_ms = ARGV[15], tonumber(ARGV[16])
local partition = partition_of(due)
-- The run's records live as long as the wait can: a cancel on day 80 of a
-- 90-day delay must still find the run.
local records_ms = math.max(window, max_window) + records_outlive_ms
if run_of(activity) ~= run_id then
  return redis.error_reply('wait append: the activity\'s run_id is not the run id ' .. run_id)
end

-- Dedupe, part one. A run with a cancellation key has a record from its
-- append on (a cancellation marks it; a cancel must find it as long as it
-- waits). Any other run gets a RunAppended record when it joins a batch of
-- two or more (the claim then need not write one per activity: a large
-- batch flushes in one step), or when its one-activity wait leaves (the
-- claim, a closing cap); until then that wait knows it (below). (A run
-- record of an older Herald, which wrote one for every run, counts too.)
if cancel_mine then
  if redis.call('HSETNX', run, 's' .. step, now) == 0 then return 'duplicate' end
  keep_for(run, records_ms)
  local at = tonumber(redis.call('HGET', cancel_mine, '@cancelled_at') or '-1')
  local at_everyone = tonumber(redis.call('HGET', cancel_everyone, '@cancelled_at') or '-1')
  if (at >= 0 and at >= accepted) or (at_everyone >= 0 and at_everyone >= accepted) then
    redis.call('HSET', run, 'status', 'cancelled', 'cancelled_at', now)
    return 'cancelled'
  end
elseif redis.call('EXISTS', appended, run) > 0 then
  return 'duplicate'
end

-- The run's place in the cancellation index: where cancel.lua looks for it.
local function index(place)
  if not cancel_mine then return end
  redis.call('HSET', cancel_mine, run_id, place)
  keep_for(cancel_mine, records_ms)
  redis.call('SADD', cancel_recipients, recipient)
  keep_for(cancel_recipients, records_ms)
end

-- A batch an older Herald opened under an open pointer: joined as it did,
-- until it is flushed (the upgrade path; the run's record is written now,
-- since that layout's activities are not remembered at the flush).
local older_id = redis.call('GET', open)
if older_id then
  if not cancel_mine then redis.call('SET', appended, '1', 'PX', records_ms) end
  local header, older = wait_header_key(partition, older_id), wait_activities_key(partition, older_id)
  redis.call('HSET', older, run_id, with_sequence(activity, redis.call('HINCRBY', header, 'n', 1)))
  if max_activities > 0 and redis.call('HLEN', older) >= max_activities then
    redis.call('DEL', open)
    redis.call('ZADD', older_due, now, older_id)
  elseif sliding then
    local opened = tonumber(redis.call('HGET', header, 'opened'))
    redis.call('ZADD', older_due, 'XX', 'GT', math.min(now + window, opened + max_window), older_id)
  end
  index(older_id)
  return 'joined'
end

-- Where this activity goes: the wait key's place (inline wait or batch hash).
local place = wait_key
local state = redis.call('HMGET', batch, run_id, 'n', 'o', 'opened', 'h', 'wait')
if state[1] then return 'duplicate' end
if state[6] then
  -- A batch of an older layout keyed by this wait key, closed at its cap and
  -- not claimed yet: it takes no more. This activity's wait opens under its
  -- own batch id instead (activities after it open their own until the old
  -- one is flushed: an upgrade's moment, never a loss). Only a wait key
  -- spelled as older Heralds did can meet this.
  place, batch = proposed_id, wait_header_key(partition, proposed_id)
  state = redis.call('HMGET', batch, run_id, 'n', 'o', 'opened', 'h', 'wait')
  if state[1] then return 'duplicate' end
end

local count, opened, header
if state[2] or state[4] then
  -- Join the batch hash (an older layout's batch keyed by its wait key
  -- holds its first activities in wa:<wait key>: counted too).
  local n = tonumber(state[2] or '0') + 1
  redis.call('HSET', batch, run_id, with_sequence(activity, n), 'n', n)
  if not cancel_mine then redis.call('SET', appended, '1', 'PX', records_ms) end
  header, opened = state[5], tonumber(state[3] or state[4])
  if max_activities > 0 then count = batch_activity_count(batch, wait_activities_key(partition, place)) end
else
  local inline = inline_wait(header_blob, (not leading) and activity or nil)
  if redis.call('HSETNX', inline_waits, place, inline) == 1 then
    -- Opened, its one activity inline (a leading item goes out now and
    -- leaves the header for the rest of the window).
    if leading then
      redis.call('XADD', batches, '*', 's', leading_blob)
      redis.call('SET', appended, '1', 'PX', records_outlive_ms)
      redis.call('ZADD', due, now + window, place)
      return 'leading'
    end
    if max_activities == 1 then
      -- Full at once: closed under its batch id, due now. No longer under
      -- the wait key, so the run is remembered now (a replay must not
      -- open another).
      if not cancel_mine then redis.call('SET', appended, '1', 'PX', records_ms) end
      if place ~= proposed_id then
        redis.call('HDEL', inline_waits, place)
        redis.call('HSET', inline_waits, proposed_id, inline)
        place = proposed_id
      end
      redis.call('ZADD', due, now, place)
    else
      redis.call('ZADD', due, now + window, place)
    end
    index(place)
    return 'opened'
  end
  -- A wait of one activity (or none, after a leading item): this one joins,
  -- so it becomes a batch hash. Never slid yet (only joins slide), so it
  -- opened one window before its due time.
  local stored = redis.call('HGET', inline_waits, place)
  if inline_run(stored) == run_id then return 'duplicate' end
  local held
  held, header = inline_parts(stored)
  opened = tonumber(redis.call('ZSCORE', due, place) or now + window) - window
  count = held and 2 or 1
  local fields = {'h', header, 'n', count, 'o', opened, run_id, with_sequence(activity, count)}
  if not cancel_mine then redis.call('SET', appended, '1', 'PX', records_ms) end
  if held then
    local held_run = run_of(held)
    fields[#fields + 1] = held_run
    fields[#fields + 1] = with_sequence(held, 1)
    redis.call('SET', run_appended_key(partition, held_run, step), '1', 'PX', records_ms)
  end
  redis.call('HSET', batch, unpack(fields))
  redis.call('HDEL', inline_waits, place)
end

if max_activities > 0 and count >= max_activities then
  -- Full: closed here under its batch id (so the next activity opens a new
  -- batch under the wait key), due now.
  local closed_id = batch_id_of(header)
  redis.call('RENAME', batch, wait_header_key(partition, closed_id))
  local older = wait_activities_key(partition, place)
  if redis.call('EXISTS', older) == 1 then redis.call('RENAME', older, wait_activities_key(partition, closed_id)) end
  redis.call('ZREM', due, place)
  redis.call('ZREM', older_due, place)
  redis.call('ZADD', due, now, closed_id)
  place = closed_id
elseif sliding then
  redis.call('ZADD', due, 'XX', 'GT', math.min(now + window, opened + max_window), place)
end
index(place)
return 'joined'
