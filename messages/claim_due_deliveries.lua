#!lua
-- Moves the deliveries whose retry (or deferral) is due off the timer and
-- back into the deliveries stream, in one script, so a message is either
-- waiting on the timer or in the stream, never both and never neither.
--
-- KEYS: [1] delivery_due (ZSET id -> due ms), [2] the deliveries stream.
-- ARGV: [1] now ms, [2] how many to move at most.
-- Reply: how many were moved.
local due, deliveries = KEYS[1], KEYS[2]
local ids = redis.call('ZRANGEBYSCORE', due, '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  redis.call('ZREM', due, id)
  redis.call('XADD', deliveries, '*', 'm', id)
end
return #ids
