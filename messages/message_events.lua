-- A message's events and status changes, shared by every script that
-- changes a message after it was created (delivery attempts and their
-- outcome, receipts posted back, dead-letter replays, engagement). Scripts
-- include this file by its path.
--
-- Times are written as strings: Redis's cjson keeps 14 significant digits,
-- which would round microseconds since 1970.
--
-- Events are JSON objects in the LIST KEYS-derived `events_key`, oldest
-- first; the list lives as long as the message (same remaining TTL).

-- Appends `event` (a Lua table with at least type and at_us).
local function append_message_event(message_key, events_key, event)
  redis.call('RPUSH', events_key, cjson.encode(event))
  local ttl = redis.call('PTTL', message_key)
  if ttl > 0 then redis.call('PEXPIRE', events_key, ttl) end
end

-- Moves the message to `status` (with `reason`, may be '') at `now_us` and
-- records the event 'message.<status>'.
local function set_message_status(message_key, events_key, status, reason, now_us)
  redis.call('HSET', message_key, 'status', status, 'reason', reason, 'updated_at_us', now_us)
  append_message_event(message_key, events_key,
                       {type = 'message.' .. status, at_us = tostring(now_us), status = status, reason = reason})
end
