#!lua
-- Takes up to `wanted` tokens from a channel's bucket (refilled at `rate`
-- per second up to `burst`), so every dispatcher replica shares one rate
-- limit per provider. Time comes from the caller's clock; a clock that
-- went back refills nothing.
--
-- KEYS: [1] the bucket (HASH tokens, at).
-- ARGV: [1] now ms, [2] rate per second, [3] burst, [4] wanted.
-- Reply: {tokens granted, ms until the next token when fewer than wanted}.
local key = KEYS[1]
local now, rate, burst, wanted = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local stored = redis.call('HMGET', key, 'tokens', 'at')
local tokens = tonumber(stored[1]) or burst
local at = tonumber(stored[2]) or now
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate / 1000)
  at = now
end
local granted = math.min(wanted, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', key, 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('PEXPIRE', key, math.ceil(burst * 1000 / rate) + 60000)
local wait = 0
if granted < wanted then wait = math.ceil((1 - tokens) * 1000 / rate) end
return {granted, wait}
