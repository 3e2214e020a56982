#!lua
-- Stores a preference set and announces the change on the partition's
-- preference change stream, in one step, so every worker's cache drops its
-- copy (preferences/change_listener.h) before it fans out anything written
-- after this call.
--
-- KEYS: [1] the user's preference hash, or the tenant's default set key,
--       [2] the partition's preference change stream.
-- ARGV: [1] 'u' (a user's set: HSET field ARGV[2]) or 't' (a tenant's
--       default: SET), [2] hash field, [3] the set's JSON, [4] the user or
--       tenant id, [5] the stream's approximate maximum length.
-- Reply: 1.
if ARGV[1] == 't' then
  redis.call('SET', KEYS[1], ARGV[3])
else
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', ARGV[1], ARGV[4])
return 1
