#!lua
-- Moves the events whose retry is due off the partition's event timer and
-- back into its event outbox (field 'e' = the retry envelope), in one
-- script, so an event is either on the timer or in the outbox, never both
-- and never neither.
--
-- KEYS: [1] event_due (ZSET envelope -> due ms), [2] the event outbox.
-- ARGV: [1] now ms, [2] how many to move at most.
-- Reply: how many were moved.
local due, outbox = KEYS[1], KEYS[2]
local envelopes = redis.call('ZRANGEBYSCORE', due, '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, envelope in ipairs(envelopes) do
  redis.call('ZREM', due, envelope)
  redis.call('XADD', outbox, '*', 'e', envelope)
end
return #envelopes
