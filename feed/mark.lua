#!lua
-- Marks feed items seen/read/interacted/archived or undoes it, by ids or
-- all of them, and answers the counts. Ids not in this user's feed (or not
-- in the requested tenant) are refused before anything changes. Layout and
-- watermarks: feed/feed_layout.lua. "All" on the whole feed moves a
-- watermark (O(1)) unless the event outbox needs each item's event; in a
-- tenant scope it marks each item.
--
-- KEYS: [1] the user's feed index (whole scope, of the feed marked), [2]
--       the partition's feed change stream.
-- ARGV: [1] action, [2] now ms, [3] user, [4] tenant scope ('' = whole
--       feed), [5] feed ('' = main), [6] the change stream's max length
--       (approximate; 0 = none), then message ids, or '*' for every item
--       of the scope.
-- A call that changed something appends one entry to the change stream:
-- 'a' the action, 'u' user, 'f' feed ('' = main), 't' tenant scope, 'm' now
-- ms, and 'all' '1' (every item of the scope) or 'c' the items changed, one
-- line each: "id\ttenant" (feed/feed_changes.h).
-- Each change is an event of the partition's event outbox when that is on
-- (message.seen, .read, .interacted, .archived and .unseen, .unread,
-- .uninteracted, .unarchived; messages/message_events.lua).
-- Reply: {items changed, unseen count, unread count, active count}.
--!include core/keys.lua
--!include feed/feed_layout.lua
--!include messages/message_events.lua
local action, now, user, scope_tenant, feed = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local partition = partition_of(KEYS[1])
local fp = feed_prefix(partition, feed)
local FIRST_ID = 7  -- ARGV index of the first id (or '*')
local changed_ids = {}  -- "id\ttenant" of each item changed (by ids)
local now_us = now .. '000'
local marks = watermarks(fp, user)
local SEEN, READ, INTERACTED, ARCHIVED = 1, 2, 3, 4

-- Every tenant scope of the user plus the whole one ('').
local function all_scopes()
  local scopes = redis.call('SMEMBERS', feed_set_key(fp, user, 'tenants'))
  scopes[#scopes + 1] = ''
  return scopes
end

-- "All" on the whole feed for seen/read/unseen/unread, by watermark.
local function mark_all_by_watermark()
  local before = scope_counts(fp, user, '', marks)
  local meta = feed_set_key(fp, user, 'meta')
  local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2] or '0'
  local raise, lower = {}, {}
  if action == 'seen' then raise = {'seen'}
  elseif action == 'read' then raise = {'seen', 'read'}
  elseif action == 'unseen' then lower = {'seen'}
  else lower = {'read'} end
  for _, which in ipairs(raise) do
    redis.call('HSET', meta, string.sub(which, 1, 1) .. 'w', newest, string.sub(which, 1, 1) .. 'a', now)
  end
  for _, which in ipairs(lower) do redis.call('HSET', meta, string.sub(which, 1, 1) .. 'w', '0') end
  for _, tenant in ipairs(all_scopes()) do
    local key = function(name) return scope_key(fp, user, tenant, name) end
    for _, which in ipairs(raise) do redis.call('DEL', key(which .. '_x'), key('un' .. which .. '_x')) end
    for _, which in ipairs(lower) do
      -- Below a zero watermark every item is "above": the archived ones
      -- stay out of the counts through the exception set.
      redis.call('DEL', key(which .. '_x'), key('un' .. which .. '_x'))
      if redis.call('EXISTS', key('archived')) == 1 then
        redis.call('ZUNIONSTORE', key(which .. '_x'), 1, key('archived'))
      end
    end
  end
  if action == 'seen' then return before[1] end
  if action == 'read' then return before[2] end
  local active = before[3]
  if action == 'unseen' then return active - before[1] end
  return active - before[2]
end

-- One item: returns whether it changed.
local function mark_one(id, record)
  local seq, tenant = record.seq, record.tenant
  local archived = is_member(feed_set_key(fp, user, 'archived'), id)
  local state = item_state(fp, user, marks, record, id, archived)
  local did = false
  local function event(name) outbox_feed_event(partition, 'message.' .. name, id, user, record.workflow, tenant, now_us) end
  local function set(n, value)
    state[n] = value
    if n <= READ and not archived then
      set_active_state(fp, user, tenant, marks, FEED_STATES[n], seq, id, value ~= '')
    end
    did = true
  end
  if (action == 'seen' or action == 'read' or action == 'interacted') and state[SEEN] == '' then set(SEEN, now); event('seen') end
  if (action == 'read' or action == 'interacted') and state[READ] == '' then set(READ, now); event('read') end
  if action == 'interacted' and state[INTERACTED] == '' then set(INTERACTED, now); event('interacted') end
  if action == 'uninteracted' and state[INTERACTED] ~= '' then set(INTERACTED, ''); event('uninteracted') end
  if action == 'unseen' and state[SEEN] ~= '' then set(SEEN, ''); event('unseen') end
  if action == 'unread' and state[READ] ~= '' then set(READ, ''); event('unread') end
  if action == 'archived' and not archived then
    state[ARCHIVED] = now
    both_scopes(fp, user, tenant, 'archived', function(k) redis.call('ZADD', k, record.seq_text, id) end)
    leave_counts(fp, user, tenant, marks, seq, id)
    did = true
    event('archived')
  end
  if action == 'unarchived' and archived then
    state[ARCHIVED] = ''
    both_scopes(fp, user, tenant, 'archived', function(k) redis.call('ZREM', k, id) end)
    for n, which in ipairs(FEED_STATES) do set_active_state(fp, user, tenant, marks, which, seq, id, state[n] ~= '') end
    did = true
    event('unarchived')
  end
  if did then redis.call('HSET', feed_set_key(fp, user, 'state'), id, format_state(state)) end
  return did
end

local changed = 0
if ARGV[FIRST_ID] == '*' then
  local by_watermark = {seen = true, read = true, unseen = true, unread = true}
  if scope_tenant == '' and by_watermark[action] and not outbox_is_on(partition) then
    changed = mark_all_by_watermark()
  else
    local filter = ''
    if action == 'seen' then filter = 'unseen'
    elseif action == 'read' then filter = 'unread'
    elseif action == 'unread' then filter = 'read'
    elseif action == 'unarchived' then filter = 'archived' end
    for _, id in ipairs(scope_ids(fp, user, scope_tenant, marks, filter, '', 1000000)) do
      if mark_one(id, read_record(fp, user, id)) then changed = changed + 1 end
    end
  end
else
  local records = {}
  for i = FIRST_ID, #ARGV do
    local record = read_record(fp, user, ARGV[i])
    if not record or (scope_tenant ~= '' and record.tenant ~= scope_tenant) then
      return redis.error_reply('HERALD NOT_FOUND ids[' .. (i - FIRST_ID) .. ']: item ' .. ARGV[i] .. ' is not in the feed of user ' .. user)
    end
    records[i] = record
  end
  for i = FIRST_ID, #ARGV do
    if mark_one(ARGV[i], records[i]) then
      changed = changed + 1
      changed_ids[#changed_ids + 1] = ARGV[i] .. '\t' .. records[i].tenant
    end
  end
end
if changed > 0 and tonumber(ARGV[6]) > 0 then
  local entry = {'a', action, 'u', user, 'f', fp == partition and '' or feed, 't', scope_tenant, 'm', now}
  if ARGV[FIRST_ID] == '*' then
    entry[#entry + 1] = 'all'; entry[#entry + 1] = '1'
  else
    entry[#entry + 1] = 'c'; entry[#entry + 1] = table.concat(changed_ids, '\n')
  end
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', unpack(entry))
end
marks = watermarks(fp, user)  -- "all" may have moved them
local counts = scope_counts(fp, user, scope_tenant, marks)
return {changed, counts[1], counts[2], counts[3]}
