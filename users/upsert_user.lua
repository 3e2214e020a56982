-- upsert_user(key, base, now_ms): writes one user from ARGV into the hash
-- `key`: ARGV[base] is the number of field/value pairs that follow it.
-- Keeps created_at, sets updated_at. Returns the ARGV index after the
-- pairs. Shared by users/identify.lua and the trigger script, so inline
-- users are identified atomically with their trigger.
local function upsert_user(key, base, now_ms)
  local pairs_count = tonumber(ARGV[base])
  if pairs_count > 0 then
    redis.call('HSET', key, unpack(ARGV, base + 1, base + 2 * pairs_count))
  end
  redis.call('HSET', key, 'updated_at', now_ms)
  redis.call('HSETNX', key, 'created_at', now_ms)
  return base + 1 + 2 * pairs_count
end
