-- Herald's key layout, for the keys a script derives from data it reads
-- (set members, batch ids on the timer, recipients of a cancellation key).
-- Keys known before the call always come in KEYS. This file mirrors
-- core/keys.cc and core/keys_test checks the two agree. A derived key always
-- takes the partition prefix 'herald:{p}:' of a key the script received in
-- KEYS, so a script never reaches outside the slot Redis routed it to (and
-- with `#!lua` Redis Cluster refuses it if it tried).

-- The partition prefix 'herald:{p}:' of a Herald key.
local function partition_of(key)
  local prefix = string.match(key, '^herald:{[^}]*}:')
  if not prefix then return error('not a Herald partition key: ' .. key) end
  return prefix
end

-- Strings that are part of a key are length-prefixed where two of them meet,
-- so ('a:b', 'c') and ('a', 'b:c') never name the same key.
local function sized(text) return #text .. ':' .. text end

local function message_key(partition, message_id) return partition .. 'msg:' .. message_id end
local function message_events_key(partition, message_id) return partition .. 'msgev:' .. message_id end
local function run_key(partition, run_id) return partition .. 'run:' .. run_id end
local function run_appended_key(partition, run_id, step) return partition .. 'ran:' .. run_id .. ':' .. step end
local function wait_open_key(partition, wait_key) return partition .. 'wo:' .. wait_key end
local function wait_header_key(partition, batch_id) return partition .. 'wh:' .. batch_id end
local function wait_activities_key(partition, batch_id) return partition .. 'wa:' .. batch_id end
local function cancel_index_key(partition, workflow, cancellation_key, recipient)
  return partition .. 'cancel:' .. sized(workflow) .. ':' .. sized(cancellation_key) .. ':' .. recipient
end
local function feed_set_key(partition, user, set_name) return partition .. 'feed:' .. user .. ':' .. set_name end
local function tenant_feed_set_key(partition, tenant, user, set_name)
  return partition .. 'tfeed:' .. sized(tenant) .. ':' .. user .. ':' .. set_name
end
-- The prefix the keys of one named in-app feed hang from, given to
-- feed_set_key / tenant_feed_set_key in place of the partition prefix: the
-- partition prefix itself for the main feed ('' or 'main'), whose keys
-- predate named feeds and stay as they were; for another feed a prefix of
-- its own under the partition ('herald:{p}:nfeed:<sized feed>:').
local function feed_prefix(partition, feed)
  if feed == nil or feed == '' or feed == 'main' then return partition end
  return partition .. 'nfeed:' .. sized(feed) .. ':'
end
-- The partition's feed change stream (feed/FEED_CHANGES in README: one
-- entry per insert or mark call).
local function feed_changes_key(partition) return partition .. 'feed_changes' end
-- Outbound event webhooks (events/): the stream of status and engagement
-- events, and the flag that says whether scripts append to it.
local function event_outbox_key(partition) return partition .. 'event_outbox' end
local function event_outbox_enabled_key(partition) return partition .. 'event_outbox_on' end
