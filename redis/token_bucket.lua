#!lua
-- A token bucket shared by every replica that takes from it (the
-- dispatcher's per-channel delivery rate, the API's per-key and per-tenant
-- trigger rates): refilled at `rate` per second up to `burst`. Time comes
-- from the caller's clock; a clock that went back refills nothing.
--
-- KEYS: [1] the bucket (HASH tokens, at).
-- ARGV: [1] now ms, [2] rate per second, [3] burst, [4] tokens wanted
--       (negative: give back tokens taken for a call that another bucket
--       refused), [5] 'all': all wanted or none, 'some': up to wanted.
-- Reply: {tokens granted, ms until the wanted tokens ('all') or the next
--         token ('some') are there, when fewer than wanted were granted}.
local key = KEYS[1]
local now, rate, burst, wanted = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local all = ARGV[5] == 'all'
local stored = redis.call('HMGET', key, 'tokens', 'at')
local tokens = tonumber(stored[1]) or burst
local at = tonumber(stored[2]) or now
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate / 1000)
  at = now
end
local granted
if wanted < 0 then
  granted = wanted
  tokens = math.min(burst, tokens - wanted)
elseif all then
  granted = 0
  if tokens >= wanted then granted = wanted end
  tokens = tokens - granted
else
  granted = math.min(wanted, math.floor(tokens))
  tokens = tokens - granted
end
redis.call('HSET', key, 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('PEXPIRE', key, math.ceil(burst * 1000 / rate) + 60000)
local wait = 0
if granted >= 0 and granted < wanted then
  local missing = 1 - tokens
  if all then missing = wanted - tokens end
  wait = math.ceil(missing * 1000 / rate)
end
return {granted, wait}
