#!lua
-- The timer of retries: moves the members of a due-time ZSET whose time has
-- come into a stream (one entry each, the member as the value of `field`),
-- in one script, so a member is either waiting on the timer or in the
-- stream, never both and never neither. Used for delivery retries (member:
-- a message id) and event-webhook retries (member: the retry envelope).
--
-- KEYS: [1] the ZSET (member -> due ms), [2] the stream, of one partition.
-- ARGV: [1] now ms, [2] how many to move at most, [3] the entry's field.
-- Reply: how many were moved.
local due, stream = KEYS[1], KEYS[2]
local members = redis.call('ZRANGEBYSCORE', due, '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(members) do
  redis.call('ZREM', due, member)
  redis.call('XADD', stream, '*', ARGV[3], member)
end
return #members
