#!lua
-- The write of one trigger in one partition, used when it needs more than a
-- plain XADD: with an idempotency key it is done once per partition; inline
-- users are identified and object fan-outs started atomically with the event.
--
-- KEYS: [1] events stream, [2] expansions stream, [3] the idempotency key's
--       "written" marker for this partition (or the events stream again when
--       there is no key), then each inline user, then each fan-out's
--       progress record.
-- ARGV: [1] now ms, [2] event (serialized EventEnvelope; '' when the
--       partition holds no user recipient), [3] the request's fingerprint
--       with an idempotency key ('' without), [4] its ttl seconds, [5] the
--       number of inline users, then each user's pairs (see
--       users/upsert_user.lua), then per fan-out: job, object ref, workflow.
-- Reply: 1 written, 0 already written by the same request. The marker holds
-- the fingerprint, so a marker that outlived its key's record (a retry
-- writes later than the claim) never swallows a different request's write.
--!include users/upsert_user.lua
--!include objects/start_fanout.lua
local now = ARGV[1]
if ARGV[3] ~= '' then
  if redis.call('GET', KEYS[3]) == ARGV[3] then return 0 end
  redis.call('SET', KEYS[3], ARGV[3], 'EX', tonumber(ARGV[4]))
end
local users = tonumber(ARGV[5])
local base = 6
for k = 4, 3 + users do base = upsert_user(KEYS[k], base, now) end
for k = 4 + users, #KEYS do
  start_fanout(KEYS[k], KEYS[2], ARGV[base], ARGV[base + 1], ARGV[base + 2], now)
  base = base + 3
end
if ARGV[2] ~= '' then redis.call('XADD', KEYS[1], '*', 'e', ARGV[2]) end
return 1
