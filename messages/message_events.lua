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
--
-- Outbound event webhooks (events/EVENT_WEBHOOKS.md): while the
-- partition's flag Keys::EventOutboxEnabled exists (an event-webhook worker
-- keeps it alive), every status and engagement change is also appended to
-- the partition's outbox, Keys::EventOutbox. Needs core/keys.lua included
-- before this file; the feed scripts include this file for
-- outbox_message_event alone.

-- Partition prefix -> whether its outbox is on. A script's chunk runs
-- afresh on every call, so the flag is read once per call and partition,
-- however many messages the call changes.
local event_outbox_on = {}
local function outbox_is_on(partition)
  local on = event_outbox_on[partition]
  if on == nil then
    on = redis.call('EXISTS', event_outbox_enabled_key(partition)) == 1
    event_outbox_on[partition] = on
  end
  return on
end

-- Appends the event `event_type` ('message.<status or engagement>') of the
-- message hash `key` at `at_us` (string or integer) to the partition's
-- outbox, if it is on: field 'e' = {type, message_id, recipient, workflow,
-- tenant, channel_type, status, at_us (string)}.
local function outbox_message_event(key, event_type, at_us)
  local partition = partition_of(key)
  if not outbox_is_on(partition) then return end
  local m = redis.call('HMGET', key, 'recipient', 'workflow', 'tenant', 'channel_type', 'status')
  local event = {type = event_type, message_id = string.sub(key, #message_key(partition, '') + 1), recipient = m[1] or '',
                 workflow = m[2] or '', tenant = m[3] or '', channel_type = m[4] or '', status = m[5] or '',
                 at_us = tostring(at_us)}
  redis.call('XADD', event_outbox_key(partition), '*', 'e', cjson.encode(event))
end

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
  outbox_message_event(message_key, 'message.' .. status, now_us)
end

-- Appends an event of a feed item (which has no message hash) to the
-- partition's outbox, if it is on; `partition` is the 'herald:{p}:' prefix.
local function outbox_feed_event(partition, event_type, id, user, workflow, tenant, at_us)
  if not outbox_is_on(partition) then return end
  local event = {type = event_type, message_id = id, recipient = user, workflow = workflow, tenant = tenant,
                 channel_type = 'in_app_feed', status = 'delivered', at_us = tostring(at_us)}
  redis.call('XADD', event_outbox_key(partition), '*', 'e', cjson.encode(event))
end
