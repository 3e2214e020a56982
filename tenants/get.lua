#!lua flags=no-writes
-- A tenant and its default preference set.
--
-- KEYS: [1] the tenant, [2] its default preference set.
-- Reply: {HGETALL of the tenant, its preference set or nil}.
return {redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[2])}
