#!lua
-- Records what happened to messages of one partition at their delivery
-- attempt, each atomically with its consequence: delivered ⇒ sent or
-- delivered; retry ⇒ delivery_attempted and on the retry timer; failed ⇒
-- undelivered or bounced, a dead letter, and its fallback step (if the
-- workflow named one) handed to the fan-out; defer (rate limit, open
-- circuit: not an attempt) ⇒ back on the timer. A message whose status is
-- already final, or whose lease another worker holds now, is left alone, so
-- a replayed or late result changes nothing.
--
-- KEYS: [1] delivery_due (ZSET id -> due ms), [2] dead_letters (ZSET id ->
-- us), [3] the batches stream, then per message: its key, its events key.
-- ARGV: [1] now us, [2] the lease owner recording, then 9 per message: outcome (delivered | retry | failed
-- | defer), status, reason, due ms (retry, defer), attempt number,
-- provider status, provider response, provider message id, latency us.
-- Reply, per message: 1 recorded, 0 left alone.
--!include core/keys.lua
--!include messages/message_events.lua
local due, dead, batches = KEYS[1], KEYS[2], KEYS[3]
local now, owner = ARGV[1], ARGV[2]
local out = {}
for m = 0, (#KEYS - 3) / 2 - 1 do
  local key, events = KEYS[4 + 2 * m], KEYS[5 + 2 * m]
  local a = 3 + 9 * m
  local outcome, status, reason, due_ms, attempt = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local f = redis.call('HMGET', key, 'id', 'status', 'fallback', 'lease_owner')
  local id, current = f[1], f[2]
  if not id or (current ~= 'queued' and current ~= 'delivery_attempted') or (f[4] and f[4] ~= owner) then
    out[#out + 1] = 0
  elseif outcome == 'defer' then
    redis.call('HDEL', key, 'lease_until_us', 'lease_owner')
    redis.call('ZADD', due, due_ms, id)
    out[#out + 1] = 1
  else
    local record = {attempt = tonumber(attempt), at_us = now, outcome = outcome, provider_status = ARGV[a + 5],
                    provider_response = ARGV[a + 6], latency_us = tonumber(ARGV[a + 8])}
    if outcome == 'retry' then record.next_attempt_at_us = due_ms .. '000' end
    redis.call('HDEL', key, 'lease_until_us', 'lease_owner')
    -- Attempt 0: failed before any attempt (no channel for its type).
    if record.attempt > 0 then
      redis.call('HSET', key, 'attempts', attempt)
      append_message_event(key, events, {type = 'message.attempt', at_us = now, attempt = record})
    end
    if outcome == 'delivered' then
      if ARGV[a + 7] ~= '' then redis.call('HSET', key, 'provider_message_id', ARGV[a + 7]) end
      set_message_status(key, events, status, reason, now)
    elseif outcome == 'retry' then
      redis.call('ZADD', due, due_ms, id)
      if current ~= 'delivery_attempted' then set_message_status(key, events, 'delivery_attempted', reason, now)
      else redis.call('HSET', key, 'reason', reason, 'updated_at_us', now) end
    else
      set_message_status(key, events, status, reason, now)
      -- Dead letters are listed in score order: scores stay unique per
      -- partition, so a listing's cursor never skips or repeats one.
      local last = redis.call('ZRANGE', dead, -1, -1, 'WITHSCORES')
      local score = tonumber(now)
      if last[2] and tonumber(last[2]) >= score then score = tonumber(last[2]) + 1 end
      redis.call('ZADD', dead, score, id)
      if f[3] and f[3] ~= '' then redis.call('XADD', batches, '*', 's', f[3]) end
    end
    out[#out + 1] = 1
  end
end
return out
