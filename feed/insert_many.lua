#!lua
-- Inserts in-app feed items of one partition unless their id is in the
-- user's feed already (message ids are deterministic: a replayed batch
-- writes nothing twice), indexes them in the partition's message log, and
-- keeps each user's feed to its newest `max items`. Per item: the record
-- and one index entry (two with a tenant), nothing per state — the layout
-- is in feed/feed_layout.lua. Per call: one message-log entry listing the
-- items inserted ('s' the first one's sequence, 'u' their users, one per
-- line, in sequence order, and 'f' their feeds likewise when one is not
-- the main feed; messages/list_log.lua finds each by its sequence in its
-- user's feed index), and one entry of the partition's feed change stream
-- ('a' 'i', 'c' one line per item inserted: "user\tfeed\ttenant\tid", feed
-- '' for main; feed/feed_changes.h) unless its max length is 0.
--
-- KEYS: [1] the partition's message log, [2] its feed sequence, [3] its
--   feed change stream.
-- ARGV: [1] max items per user's feed, [2] now us (the lowest sequence
--   number to give, and every item's inserted_at_us), [3] retention ms (older items go),
--   [4] the change stream's max length (approximate; 0 = no change
--   stream), then per item: tenant ('' = none), user, message id, feed
--   ('' = main), record tail (after the lag line, see feed_layout.lua; its
--   third line is the workflow).
-- Each item inserted is the event message.delivered of the partition's
-- event outbox when that is on (messages/message_events.lua).
-- Reply: per item its sequence number (its inserted_at_us), or 0 when it
-- already existed.
--!include core/keys.lua
--!include feed/feed_layout.lua
--!include messages/message_events.lua
local log, seq_key, changes_key = KEYS[1], KEYS[2], KEYS[3]
local max_items = tonumber(ARGV[1])
local partition = partition_of(log)
local now_us = tonumber(ARGV[2])
local seq = sequence_from(seq_key, now_us)
local first_seq = seq
-- trims: index key -> {fp, user}, for the trim.
local out, trims, logged, feeds, changes = {}, {}, {}, {}, {}
local changes_max = tonumber(ARGV[4])
local named = false  -- whether an item went to a feed other than main
local seq_text = sequence_texter()
local outbox = outbox_is_on(partition)
for i = 5, #ARGV, 5 do
  local tenant, user, id, feed = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local text = seq_text(seq + 1)
  local fp = feed_prefix(partition, feed)
  local inserted, index = insert_item(fp, user, id, text, count_text(seq + 1 - now_us), tenant, ARGV[i + 4])
  if inserted then
    seq = seq + 1
    logged[#logged + 1] = user
    if fp ~= partition then
      -- The log lists feeds only for calls that wrote a named one.
      if not named then
        named = true
        for k = 1, #logged - 1 do feeds[k] = 'main' end
      end
      feeds[#logged] = feed
      redis.call('SADD', feed_set_key(partition, user, 'feeds'), feed)
    else
      if named then feeds[#logged] = 'main' end
      feed = ''
    end
    if changes_max > 0 then changes[#changes + 1] = user .. '\t' .. feed .. '\t' .. tenant .. '\t' .. id end
    if outbox then
      local workflow = string.match(ARGV[i + 4], '^[^\n]*\n[^\n]*\n([^\n]*)')
      outbox_feed_event(partition, 'message.delivered', id, user, workflow, tenant, text)
    end
    trims[index] = {fp, user}
    out[#out + 1] = seq
  else
    out[#out + 1] = 0
  end
end
if seq ~= first_seq then
  redis.call('SET', seq_key, seq_text_of(seq))
  if named then
    redis.call('XADD', log, '*', 's', seq_text_of(first_seq + 1), 'u', table.concat(logged, '\n'), 'f',
               table.concat(feeds, '\n'))
  else
    redis.call('XADD', log, '*', 's', seq_text_of(first_seq + 1), 'u', table.concat(logged, '\n'))
  end
  if changes_max > 0 then
    redis.call('XADD', changes_key, 'MAXLEN', '~', ARGV[4], '*', 'a', 'i', 'c', table.concat(changes, '\n'))
  end
end
local below_cutoff = '(' .. seq_text_of(now_us - tonumber(ARGV[3]) * 1000)
for index, t in pairs(trims) do trim_feed(t[1], t[2], index, max_items, below_cutoff) end
return out
