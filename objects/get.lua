#!lua flags=no-writes
-- An object and its subscriber count.
--
-- KEYS: [1] the object, [2] its subscribers.
-- Reply: the object's HGETALL fields followed by its subscriber count.
local out = redis.call('HGETALL', KEYS[1])
out[#out + 1] = redis.call('ZCARD', KEYS[2])
return out
