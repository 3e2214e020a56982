#!lua
-- Upserts a tenant: name and settings replace the stored ones when given,
-- and so does its default preference set; answers it as tenants/get.lua.
--
-- KEYS: [1] the tenant, [2] its default preference set.
-- ARGV: [1] now ms, [2] '1' to set the name, [3] name, [4] '1' to set the
--       settings, [5] settings JSON, [6] '1' to set the preference set,
--       [7] preference set JSON.
-- Reply: {HGETALL of the tenant, its preference set or nil}.
if ARGV[2] == '1' then redis.call('HSET', KEYS[1], 'name', ARGV[3]) end
if ARGV[4] == '1' then redis.call('HSET', KEYS[1], 'settings', ARGV[5]) end
if ARGV[6] == '1' then redis.call('SET', KEYS[2], ARGV[7]) end
redis.call('HSET', KEYS[1], 'updated_at', ARGV[1])
redis.call('HSETNX', KEYS[1], 'created_at', ARGV[1])
return {redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[2])}
