#!lua
-- Inserts in-app feed items of one partition unless their message exists
-- (message ids are deterministic: a replayed batch writes nothing twice),
-- indexes each in the partition's message log, and keeps each user's feed
-- to its newest `max items`: older items leave every feed set (whole and
-- tenant-scoped, so the counts stay exact) and their message is deleted.
-- The message expires after the retention. In-app items have no events
-- list: their events are read from the hash's timestamps.
--
-- KEYS: [1] the partition's message log, then per item in order: the
--   message, the user's feed "meta", the user's "active", "unseen" and
--   "unread" sets, and for an item of a tenant the same three sets of the
--   user's feed in that tenant.
-- ARGV: [1] retention ms, [2] max items per user's feed, then per item:
--   tenant ('' = none), user, message id, body (serialized FeedItem),
--   channel, accepted_at_us, inserted_at_us, preferences note, workflow,
--   workflow run id.
-- Each item inserted is the event message.delivered of the partition's
-- event outbox when that is on (messages/message_events.lua).
-- Reply: per item its new sequence number, or 0 when it already existed.
--!include core/keys.lua
--!include feed/feed_sets.lua
--!include messages/message_log.lua
--!include messages/message_events.lua
local log = KEYS[1]
local retention, max_items = ARGV[1], tonumber(ARGV[2])
local partition = partition_of(log)
local out = {}
local users = {}
local k = 2
for i = 3, #ARGV, 10 do
  local tenant, user, id = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local message, meta = KEYS[k], KEYS[k + 1]
  local sets = {KEYS[k + 2], KEYS[k + 3], KEYS[k + 4]}
  k = k + 5
  if tenant ~= '' then
    sets[4], sets[5], sets[6] = KEYS[k], KEYS[k + 1], KEYS[k + 2]
    k = k + 3
  end
  if redis.call('EXISTS', message) == 1 then
    out[#out + 1] = 0
  else
    local seq = redis.call('HINCRBY', meta, 'seq', 1)
    -- One HSET per item: the optional fields join it when present.
    local fields = {'recipient', user, 'item', ARGV[i + 3], 'channel', ARGV[i + 4], 'status', 'delivered', 'seq', seq,
                    'accepted_at_us', ARGV[i + 5], 'inserted_at_us', ARGV[i + 6], 'workflow', ARGV[i + 8],
                    'channel_type', 'in_app_feed'}
    if ARGV[i + 7] ~= '' then fields[#fields + 1] = 'preferences'; fields[#fields + 1] = ARGV[i + 7] end
    if ARGV[i + 9] ~= '' then fields[#fields + 1] = 'workflow_run_id'; fields[#fields + 1] = ARGV[i + 9] end
    if tenant ~= '' then fields[#fields + 1] = 'tenant'; fields[#fields + 1] = tenant end
    redis.call('HSET', message, unpack(fields))
    redis.call('PEXPIRE', message, retention)
    for _, set in ipairs(sets) do redis.call('ZADD', set, seq, id) end
    log_message(log, id)
    outbox_message_event(message, 'message.delivered', ARGV[i + 6])
    users[user] = true
    out[#out + 1] = seq
  end
end

-- The `count` oldest of a user's items (active and archived), by sequence.
local function oldest(user, count)
  local a = redis.call('ZRANGE', feed_set_key(partition, user, 'active'), 0, count - 1, 'WITHSCORES')
  local b = redis.call('ZRANGE', feed_set_key(partition, user, 'archived'), 0, count - 1, 'WITHSCORES')
  local ids, ia, ib = {}, 1, 1
  while #ids < count and (ia <= #a or ib <= #b) do
    if ib > #b or (ia <= #a and tonumber(a[ia + 1]) < tonumber(b[ib + 1])) then
      ids[#ids + 1] = a[ia]; ia = ia + 2
    else
      ids[#ids + 1] = b[ib]; ib = ib + 2
    end
  end
  return ids
end

for user in pairs(users) do
  local total = redis.call('ZCARD', feed_set_key(partition, user, 'active')) +
                redis.call('ZCARD', feed_set_key(partition, user, 'archived'))
  if total > max_items then
    for _, id in ipairs(oldest(user, total - max_items)) do
      local key = message_key(partition, id)
      local tenant = redis.call('HGET', key, 'tenant')
      for _, name in ipairs({'active', 'unseen', 'unread', 'read', 'archived'}) do
        feed_zrem(partition, user, tenant, name, id)
      end
      redis.call('DEL', key, message_events_key(partition, id))
    end
  end
end
return out
