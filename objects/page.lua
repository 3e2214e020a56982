#!lua flags=no-writes
-- One page of an object's subscribers in lexicographic order.
--
-- KEYS: [1] the object's subscribers.
-- ARGV: [1] exclusive lower bound ('' = from the start), [2] count.
-- Reply: {user ids, subscriber count}.
local min = '-'
if ARGV[1] ~= '' then min = '(' .. ARGV[1] end
return {redis.call('ZRANGE', KEYS[1], min, '+', 'BYLEX', 'LIMIT', 0, tonumber(ARGV[2])), redis.call('ZCARD', KEYS[1])}
