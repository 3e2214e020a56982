#!lua
-- Gives dead letters of one partition a fresh round of attempts: each leaves
-- the dead-letter set (only one caller can take it: two concurrent replays
-- queue it once), goes back to `queued` with its attempt count reset (its
-- history stays in its events) and into the deliveries stream.
--
-- KEYS: [1] dead_letters, [2] the deliveries stream, then per message: its
-- key, its events key. ARGV: [1] now us, then the message ids.
-- Reply: how many were queued again.
--!include core/keys.lua
--!include messages/message_events.lua
local dead, deliveries = KEYS[1], KEYS[2]
local now = ARGV[1]
local replayed = 0
for m = 0, (#KEYS - 2) / 2 - 1 do
  local key, events, id = KEYS[3 + 2 * m], KEYS[4 + 2 * m], ARGV[2 + m]
  if redis.call('ZREM', dead, id) == 1 and redis.call('EXISTS', key) == 1 then
    redis.call('HSET', key, 'attempts', 0)
    redis.call('HDEL', key, 'lease_until_us', 'lease_owner')
    append_message_event(key, events, {type = 'message.replayed', at_us = now})
    set_message_status(key, events, 'queued', 'replayed', now)
    redis.call('XADD', deliveries, '*', 'm', id)
    replayed = replayed + 1
  end
end
return replayed
