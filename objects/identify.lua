#!lua
-- Upserts an object (name and properties replace the stored ones when
-- given) and answers it as objects/get.lua does.
--
-- KEYS: [1] the object, [2] its subscribers.
-- ARGV: [1] now ms, [2] name, [3] '1' to set the name, [4] properties JSON,
--       [5] '1' to set the properties.
-- Reply: the object's HGETALL fields followed by its subscriber count.
if ARGV[3] == '1' then redis.call('HSET', KEYS[1], 'name', ARGV[2]) end
if ARGV[5] == '1' then redis.call('HSET', KEYS[1], 'properties', ARGV[4]) end
redis.call('HSET', KEYS[1], 'updated_at', ARGV[1])
redis.call('HSETNX', KEYS[1], 'created_at', ARGV[1])
local out = redis.call('HGETALL', KEYS[1])
out[#out + 1] = redis.call('ZCARD', KEYS[2])
return out
