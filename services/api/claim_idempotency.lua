#!lua
-- The one record of an idempotency key, whatever partitions its request
-- touches: the first request stores its fingerprint; the same request again
-- is let through (its partition writes dedupe themselves); a different
-- request with the key is refused.
--
-- KEYS: [1] the key's record (in the partition of the key).
-- ARGV: [1] the request's fingerprint, [2] ttl seconds.
-- Reply: 1 first use, 0 the same request seen before; FAILED_PRECONDITION
-- naming idempotency_key for a different request.
local previous = redis.call('GET', KEYS[1])
if previous then
  if previous ~= ARGV[1] then
    return redis.error_reply('HERALD FAILED_PRECONDITION idempotency_key: already used with a different request')
  end
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
return 1
