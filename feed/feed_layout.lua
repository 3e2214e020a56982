-- The in-app feed's layout in Redis, shared by every script that reads or
-- changes a feed (feed/*.lua, and messages/ scripts that treat feed items
-- as messages). Needs core/keys.lua included before it.
--
-- Named feeds: every function here takes `fp`, the feed's key prefix
-- (feed_prefix(partition, feed) in core/keys.lua), where it names keys. For
-- the main feed that is the partition prefix itself, so its keys are the
-- ones written before named feeds existed (no migration); another feed of
-- the user has the same layout under its own prefix. A user who has items
-- in named feeds has their names in the SET feed_set_key(partition, user,
-- 'feeds') (main prefix), so readers that know only the user and a message
-- id (messages/get.lua) and the user's deletion find them.
--
-- Per user (the "whole" scope) and, for items of a tenant, again per
-- (tenant, user) (the tenant scope), keys named by feed_set_key /
-- tenant_feed_set_key:
--   items    HASH id -> record (whole scope only): written once, see below
--   index    ZSET id -> seq, every item (active and archived)
--   archived ZSET id -> seq, the archived ones
--   seen_x / unseen_x, read_x / unread_x   ZSETs id -> seq: exceptions to
--            the watermarks (below)
--   state    HASH id -> "seen_ms\nread_ms\ninteracted_ms\narchived_ms"
--            (whole scope only; written by marks, absent for untouched items)
--   meta     HASH sw/sa, rw/ra: the seen and read watermarks (seq) and when
--            they were set (ms) (whole scope only)
--   tenants  SET of the tenants the user has items in (whole scope only)
--
-- Watermarks instead of per-item sets: an insert writes the record and one
-- index entry, nothing per state. Mark-all raises a watermark (O(1)). An
-- active item with seq <= sw is seen unless it is in unseen_x; above sw it
-- is unseen unless it is in seen_x. seen_x also holds the archived items
-- above sw and unseen_x never holds an archived item, so
--   unseen count = ZCOUNT(index, (sw, +inf)) - ZCARD(seen_x) + ZCARD(unseen_x)
-- is exact, O(log n), and the same formula holds per tenant scope (its sets
-- mirror the whole scope's for its items; the watermarks are the user's).
-- Read works the same way with rw, read_x, unread_x. An archived item keeps
-- its own state in `state` (materialised when it was archived).
--
-- Record: "~lag\ninserted_minus_accepted\ntenant\nworkflow\n
-- workflow_run_id\nchannel\npreferences\n" then the serialized FeedItem
-- (without what the header says). The item's seq (its score in `index`) is
-- the insert time in microseconds made unique and increasing per partition;
-- lag is seq minus the insert time the fan-out gave (small: the item's place
-- in its insert call), so inserted_at_us = seq - lag and accepted_at_us =
-- inserted_at_us - inserted_minus_accepted are exact without a 16-digit
-- time in the record. Records written before this layout (no '~') start
-- "seq\nlag\n" and keep accepted_at_us in full before the preferences; both
-- read the same.

local FEED_STATES = {'seen', 'read'}

local function scope_key(fp, user, tenant, name)
  if tenant and tenant ~= '' then return tenant_feed_set_key(fp, tenant, user, name) end
  return feed_set_key(fp, user, name)
end

-- Runs fn(key) for the key `name` of the whole scope and, when the item
-- belongs to a tenant, of its tenant scope.
local function both_scopes(fp, user, tenant, name, fn)
  fn(feed_set_key(fp, user, name))
  if tenant and tenant ~= '' then fn(tenant_feed_set_key(fp, tenant, user, name)) end
end

-- The record's fields, or nil when it is not one. `seq_text` is the item's
-- score in its index: without it a record of the current layout gives no
-- seq, inserted or accepted (remove_items needs its tenant only).
local function parse_record(record, seq_text)
  if string.sub(record, 1, 1) == '~' then
    local lag, delta, tenant, workflow, run, channel, prefs, rest =
      string.match(record, '^~(%d+)\n(%-?%d+)\n([^\n]*)\n([^\n]*)\n([^\n]*)\n([^\n]*)\n([^\n]*)\n()')
    if not lag then return nil end
    local r = {tenant = tenant, workflow = workflow, run = run, channel = channel, preferences = prefs,
               body = string.sub(record, rest)}
    if seq_text then
      local inserted = tonumber(seq_text) - tonumber(lag)
      r.seq, r.seq_text = tonumber(seq_text), seq_text
      r.inserted = string.format('%d', inserted)
      r.accepted = string.format('%d', inserted - tonumber(delta))
    end
    return r
  end
  local seq, lag, tenant, workflow, run, channel, accepted, prefs, rest =
    string.match(record, '^(%d+)\n(%d+)\n([^\n]*)\n([^\n]*)\n([^\n]*)\n([^\n]*)\n([^\n]*)\n([^\n]*)\n()')
  if not seq then return nil end
  return {seq = tonumber(seq), seq_text = seq, inserted = string.format('%d', tonumber(seq) - tonumber(lag)),
          tenant = tenant, workflow = workflow, run = run, channel = channel,
          accepted = accepted, preferences = prefs, body = string.sub(record, rest)}
end

-- The record of item `id` of the user's feed, parsed with its seq, or nil.
local function read_record(fp, user, id)
  local text = redis.call('HGET', feed_set_key(fp, user, 'items'), id)
  if not text then return nil end
  local seq_text
  if string.sub(text, 1, 1) == '~' then
    seq_text = redis.call('ZSCORE', feed_set_key(fp, user, 'index'), id)
    if not seq_text then return nil end
  end
  return parse_record(text, seq_text)
end

-- {seen, read, interacted, archived} ms strings ('' when not set).
local function parse_state(text)
  if not text then return {'', '', '', ''} end
  local s, r, i, a = string.match(text, '^([^\n]*)\n([^\n]*)\n([^\n]*)\n([^\n]*)$')
  return {s or '', r or '', i or '', a or ''}
end

local function format_state(state) return table.concat(state, '\n') end

local function watermarks(fp, user)
  local m = redis.call('HMGET', feed_set_key(fp, user, 'meta'), 'sw', 'sa', 'rw', 'ra')
  -- Numbers compare; the texts go into commands (a Lua number would be
  -- formatted with 14 digits, and sequences have 16).
  return {seen = tonumber(m[1]) or 0, seen_text = m[1] or '0', seen_at = m[2] or '',
          read = tonumber(m[3]) or 0, read_text = m[3] or '0', read_at = m[4] or ''}
end

local function is_member(key, id) return redis.call('ZSCORE', key, id) ~= false end

-- Whether the active item (seq, id) is seen / read in the user's feed.
local function effective(fp, user, marks, which, seq, id)
  if seq > marks[which] then return is_member(feed_set_key(fp, user, which .. '_x'), id) end
  return not is_member(feed_set_key(fp, user, 'un' .. which .. '_x'), id)
end

-- Counts of a scope: {unseen, unread, active}.
local function scope_counts(fp, user, tenant, marks)
  local key = function(name) return scope_key(fp, user, tenant, name) end
  local function count(which)
    return redis.call('ZCOUNT', key('index'), '(' .. marks[which .. '_text'], '+inf') - redis.call('ZCARD', key(which .. '_x')) +
           redis.call('ZCARD', key('un' .. which .. '_x'))
  end
  return {count('seen'), count('read'), redis.call('ZCARD', key('index')) - redis.call('ZCARD', key('archived'))}
end

-- Sets the active item's `which` state to `value` in the count sets of
-- both its scopes.
local function set_active_state(fp, user, tenant, marks, which, seq, id, value)
  local score = string.format('%d', seq)
  if seq > marks[which] then
    both_scopes(fp, user, tenant, which .. '_x', function(k)
      if value then redis.call('ZADD', k, score, id) else redis.call('ZREM', k, id) end
    end)
  else
    both_scopes(fp, user, tenant, 'un' .. which .. '_x', function(k)
      if value then redis.call('ZREM', k, id) else redis.call('ZADD', k, score, id) end
    end)
  end
end

-- An archived item leaves the counts: above the watermark it sits in the
-- exception set (not counted), below it must not be in un*_x.
local function leave_counts(fp, user, tenant, marks, seq, id)
  for _, which in ipairs(FEED_STATES) do set_active_state(fp, user, tenant, marks, which, seq, id, true) end
end

-- The item's state as the user sees it: {seen, read, interacted, archived}
-- ms strings. `archived` says whether it is in the archived set.
local function item_state(fp, user, marks, record, id, archived)
  local state = parse_state(redis.call('HGET', feed_set_key(fp, user, 'state'), id))
  if archived then return state end
  state[4] = ''
  for n, which in ipairs(FEED_STATES) do
    if effective(fp, user, marks, which, record.seq, id) then
      if state[n] == '' then state[n] = marks[which .. '_at'] end
      if state[n] == '' then state[n] = '0' end
    else
      state[n] = ''
    end
  end
  return state
end

-- Removes items (ids) of a user's feed entirely: record, state, every set
-- of both scopes.
local function remove_items(fp, user, ids)
  local items = feed_set_key(fp, user, 'items')
  for _, id in ipairs(ids) do
    local record = parse_record(redis.call('HGET', items, id) or '')
    local tenant = record and record.tenant or ''
    for _, name in ipairs({'index', 'archived', 'seen_x', 'unseen_x', 'read_x', 'unread_x'}) do
      both_scopes(fp, user, tenant, name, function(k) redis.call('ZREM', k, id) end)
    end
    redis.call('HDEL', items, id)
    redis.call('HDEL', feed_set_key(fp, user, 'state'), id)
  end
end

-- The item as the fields of a message hash (messages/ reads feed items
-- through this, so a feed item answers like any other message), or nil.
local function feed_item_fields(fp, user, id)
  local record = read_record(fp, user, id)
  if not record then return nil end
  local archived = is_member(feed_set_key(fp, user, 'archived'), id)
  local state = item_state(fp, user, watermarks(fp, user), record, id, archived)
  local f = {'recipient', user, 'item', record.body, 'channel', record.channel ~= '' and record.channel or 'in_app_feed',
             'status', 'delivered', 'seq', record.seq_text, 'accepted_at_us', record.accepted,
             'inserted_at_us', record.inserted, 'workflow', record.workflow, 'channel_type', 'in_app_feed',
             'workflow_run_id', record.run}
  if record.preferences ~= '' then f[#f + 1] = 'preferences'; f[#f + 1] = record.preferences end
  if record.tenant ~= '' then f[#f + 1] = 'tenant'; f[#f + 1] = record.tenant end
  for n, name in ipairs({'seen_at', 'read_at', 'interacted_at', 'archived_at'}) do
    if state[n] ~= '' then f[#f + 1] = name; f[#f + 1] = state[n] end
  end
  return f
end

-- Writes a new item unless its id is in the user's feed already: the record
-- and its index entries (both scopes). `tail` is the record after its lag
-- line, `lag_text` the lag (see the record above). Returns whether it was
-- written.
-- The user's index key is returned too when it was written (trim_feed
-- takes it).
local function insert_item(fp, user, id, seq_text, lag_text, tenant, tail)
  local prefix = fp .. 'feed:' .. user
  if redis.call('HSETNX', prefix .. ':items', id, '~' .. lag_text .. '\n' .. tail) == 0 then return false end
  local index = prefix .. ':index'
  redis.call('ZADD', index, seq_text, id)
  if tenant ~= '' then
    redis.call('ZADD', tenant_feed_set_key(fp, tenant, user, 'index'), seq_text, id)
    redis.call('SADD', feed_set_key(fp, user, 'tenants'), tenant)
  end
  return true, index
end

-- Sequence numbers: the insert time in microseconds, made unique and
-- increasing per partition (the last one is kept in `seq_key`).
local function sequence_from(seq_key, now_us)
  return math.max(tonumber(now_us), (tonumber(redis.call('GET', seq_key)) or 0) + 1) - 1
end
local function seq_text_of(seq) return string.format('%d', seq) end

-- The decimal text of a count (n >= 0): small ones without string.format,
-- which costs a libc snprintf per call (a lag is an item's place in its
-- insert call).
local DIGITS = {'0', '1', '2', '3', '4', '5', '6', '7', '8', '9'}
local function count_text(n)
  if n < 10 then return DIGITS[n + 1] end
  if n < 100 then return DIGITS[math.floor(n / 10) + 1] .. DIGITS[n % 10 + 1] end
  return string.format('%d', n)
end

-- A function giving the text of sequence numbers that mostly follow each
-- other (an insert call's) without a string.format each: the digits above
-- the last three are formatted once per thousand.
local function sequence_texter()
  local high, prefix = -1, ''
  return function(seq)
    if seq < 1000 then return string.format('%d', seq) end
    local low = seq % 1000
    if seq - low ~= high then
      high = seq - low
      prefix = string.format('%d', high / 1000)
    end
    return prefix .. DIGITS[math.floor(low / 100) + 1] .. DIGITS[math.floor(low / 10) % 10 + 1] .. DIGITS[low % 10 + 1]
  end
end

-- Keeps the user's feed (its index key `index`) to its newest `max_items`
-- items, none inserted before the cutoff (the message retention; a feed
-- that gets no new item is swept by retention/). `below_cutoff` is
-- '(' .. cutoff_us, built once per call.
local function trim_feed(fp, user, index, max_items, below_cutoff)
  local total = redis.call('ZCARD', index)
  if total > max_items then
    remove_items(fp, user, redis.call('ZRANGE', index, 0, total - max_items - 1))
  end
  local expired = redis.call('ZRANGEBYSCORE', index, '-inf', below_cutoff, 'LIMIT', '0', '100')
  if #expired > 0 then remove_items(fp, user, expired) end
end

-- Ids of a scope that pass `filter` ('' every active item, 'unseen',
-- 'unread', 'read', 'archived'), newest first, below seq `after` ('' = from
-- the newest), at most `count`.
local function scope_ids(fp, user, tenant, marks, filter, after, count)
  local source = scope_key(fp, user, tenant, filter == 'archived' and 'archived' or 'index')
  local archived = scope_key(fp, user, tenant, 'archived')
  local max = '+inf'
  if after ~= '' then max = '(' .. after end
  local out = {}
  while #out < count do
    local chunk = redis.call('ZREVRANGEBYSCORE', source, max, '-inf', 'WITHSCORES', 'LIMIT', '0', '100')
    if #chunk == 0 then break end
    for i = 1, #chunk, 2 do
      local id, seq = chunk[i], tonumber(chunk[i + 1])
      max = '(' .. chunk[i + 1]
      local keep = true
      if filter ~= 'archived' then
        keep = not is_member(archived, id)
        if keep and filter == 'unseen' then keep = not effective(fp, user, marks, 'seen', seq, id)
        elseif keep and filter == 'unread' then keep = not effective(fp, user, marks, 'read', seq, id)
        elseif keep and filter == 'read' then keep = effective(fp, user, marks, 'read', seq, id) end
      end
      if keep then
        out[#out + 1] = id
        if #out >= count then break end
      end
    end
  end
  return out
end
