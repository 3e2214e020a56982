#!lua
-- One throttle step's check-and-count for one run, in one script (DESIGN.md
-- "Batching protocol": one script per transition): forget the passes that
-- left the sliding window, let the run through when fewer than the limit
-- remain (counting it and handing it on to the batches stream), otherwise
-- stop it. Redis runs the script alone, so however many triggers race,
-- exactly `limit` pass per window. The decision is kept, so a replayed
-- entry gets the same answer and hands the run on at most once.
--
-- KEYS: [1] the window (ZSET run id -> ms it passed), [2] the run's decision
--       at this step (STRING "p"/"t"), [3] the batches stream of the run's
--       lane.
-- ARGV: [1] now ms, [2] window ms, [3] limit, [4] run id, [5] the envelope
--       the run goes on with (BatchEnvelope), [6] how long (ms) the
--       decision is kept.
-- Reply: {1 passed / 0 throttled, 1 when decided before (a replay) / 0}.
local window_key, decision_key, batches = KEYS[1], KEYS[2], KEYS[3]
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local run_id, envelope, keep_ms = ARGV[4], ARGV[5], tonumber(ARGV[6])

local decided = redis.call('GET', decision_key)
if decided then return {decided == 'p' and 1 or 0, 1} end

-- A pass counts while it is younger than the window: the window slides.
redis.call('ZREMRANGEBYSCORE', window_key, '-inf', now - window)
if redis.call('ZCARD', window_key) >= limit then
  redis.call('SET', decision_key, 't', 'PX', keep_ms)
  return {0, 0}
end
redis.call('ZADD', window_key, now, run_id)
redis.call('PEXPIRE', window_key, window)
redis.call('SET', decision_key, 'p', 'PX', keep_ms)
redis.call('XADD', batches, '*', 's', envelope)
return {1, 0}
