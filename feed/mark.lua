#!lua
-- Marks feed items seen/read/interacted/archived or undoes it, by ids or
-- all of them, and answers the counts. Ids not in this user's feed (or not
-- in the requested tenant) are refused before anything changes.
--
-- KEYS: [1] active, [2] unseen, [3] unread, [4] read, [5] archived (the
--       whole feed, or the user's feed in one tenant).
-- ARGV: [1] action, [2] now ms, [3] user, [4] tenant scope ('' = whole
--       feed), then message ids, or '*' for every item of the scope.
-- Each change is an event of the partition's event outbox when that is on
-- (message.seen, .read, .interacted, .archived and .unseen, .unread,
-- .uninteracted, .unarchived; messages/message_events.lua).
-- Reply: {items changed, unseen count, unread count, active count}.
--!include core/keys.lua
--!include feed/feed_sets.lua
--!include messages/message_events.lua
local active, unseen, unread, read, archived = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local action, now, user, scope_tenant = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local partition = partition_of(active)
local now_us = now .. '000'
local ids = {}
if ARGV[5] == '*' then
  local source = active
  if action == 'seen' then source = unseen
  elseif action == 'read' then source = unread
  elseif action == 'unread' then source = read
  elseif action == 'unarchived' then source = archived end
  ids = redis.call('ZRANGE', source, 0, -1)
else
  for i = 5, #ARGV do
    local message = message_key(partition, ARGV[i])
    local stored = redis.call('HMGET', message, 'recipient', 'tenant', 'seq')
    local in_scope = scope_tenant == '' or stored[2] == scope_tenant
    if stored[1] ~= user or not in_scope or not stored[3] then
      return redis.error_reply('HERALD NOT_FOUND ids[' .. (i - 5) .. ']: item ' .. ARGV[i] .. ' is not in the feed of user ' .. user)
    end
    ids[#ids + 1] = ARGV[i]
  end
end
local changed = 0
for _, id in ipairs(ids) do
  local key = message_key(partition, id)
  local m = redis.call('HMGET', key, 'seq', 'seen_at', 'read_at', 'interacted_at', 'archived_at', 'tenant')
  local seq, seen, rd, inter, arch, tenant = m[1], m[2], m[3], m[4], m[5], m[6]
  local live = not arch
  local did = false
  if action == 'seen' or action == 'read' or action == 'interacted' then
    if not seen then
      redis.call('HSET', key, 'seen_at', now); feed_zrem(partition, user, tenant, 'unseen', id); did = true
      outbox_message_event(key, 'message.seen', now_us)
    end
  end
  if action == 'read' or action == 'interacted' then
    if not rd then
      redis.call('HSET', key, 'read_at', now); feed_zrem(partition, user, tenant, 'unread', id)
      if live then feed_zadd(partition, user, tenant, 'read', seq, id) end
      did = true
      outbox_message_event(key, 'message.read', now_us)
    end
  end
  if action == 'interacted' and not inter then
    redis.call('HSET', key, 'interacted_at', now); did = true
    outbox_message_event(key, 'message.interacted', now_us)
  end
  if action == 'uninteracted' and inter then
    redis.call('HDEL', key, 'interacted_at'); did = true
    outbox_message_event(key, 'message.uninteracted', now_us)
  end
  if action == 'unseen' and seen then
    redis.call('HDEL', key, 'seen_at')
    if live then feed_zadd(partition, user, tenant, 'unseen', seq, id) end
    did = true
    outbox_message_event(key, 'message.unseen', now_us)
  end
  if action == 'unread' and rd then
    redis.call('HDEL', key, 'read_at')
    feed_zrem(partition, user, tenant, 'read', id)
    if live then feed_zadd(partition, user, tenant, 'unread', seq, id) end
    did = true
    outbox_message_event(key, 'message.unread', now_us)
  end
  if action == 'archived' and live then
    redis.call('HSET', key, 'archived_at', now)
    for _, name in ipairs({'active', 'unseen', 'unread', 'read'}) do feed_zrem(partition, user, tenant, name, id) end
    feed_zadd(partition, user, tenant, 'archived', seq, id)
    did = true
    outbox_message_event(key, 'message.archived', now_us)
  end
  if action == 'unarchived' and arch then
    redis.call('HDEL', key, 'archived_at')
    feed_zrem(partition, user, tenant, 'archived', id)
    feed_zadd(partition, user, tenant, 'active', seq, id)
    if not seen then feed_zadd(partition, user, tenant, 'unseen', seq, id) end
    if rd then feed_zadd(partition, user, tenant, 'read', seq, id) else feed_zadd(partition, user, tenant, 'unread', seq, id) end
    did = true
    outbox_message_event(key, 'message.unarchived', now_us)
  end
  if did then changed = changed + 1 end
end
return {changed, redis.call('ZCARD', unseen), redis.call('ZCARD', unread), redis.call('ZCARD', active)}
