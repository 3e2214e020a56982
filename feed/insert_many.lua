#!lua
-- Inserts in-app feed items of one partition unless their id is in the
-- user's feed already (message ids are deterministic: a replayed batch
-- writes nothing twice), indexes them in the partition's message log, and
-- keeps each user's feed to its newest `max items`. Per item: the record
-- and one index entry (two with a tenant), nothing per state — the layout
-- is in feed/feed_layout.lua. Per call: one message-log entry listing the
-- items inserted ('s' the first one's sequence, 'u' their users, one per
-- line, in sequence order; messages/list_log.lua finds each by its sequence
-- in its user's feed index).
--
-- KEYS: [1] the partition's message log, [2] its feed sequence.
-- ARGV: [1] max items per user's feed, [2] now us (the lowest sequence
--   number to give, and every item's inserted_at_us), [3] retention ms (older items go), then per item: tenant ('' = none), user, message id,
--   record tail (after the lag line, see feed_layout.lua; its third line is the workflow).
-- Each item inserted is the event message.delivered of the partition's
-- event outbox when that is on (messages/message_events.lua).
-- Reply: per item its sequence number (its inserted_at_us), or 0 when it
-- already existed.
--!include core/keys.lua
--!include feed/feed_layout.lua
--!include messages/message_events.lua
local log, seq_key = KEYS[1], KEYS[2]
local max_items = tonumber(ARGV[1])
local partition = partition_of(log)
local now_us = tonumber(ARGV[2])
local seq = sequence_from(seq_key, now_us)
local first_seq = seq
-- users: user -> their index key, for the trim.
local out, users, logged = {}, {}, {}
local seq_text = sequence_texter()
local outbox = outbox_is_on(partition)
for i = 4, #ARGV, 4 do
  local tenant, user, id = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local text = seq_text(seq + 1)
  local inserted, index = insert_item(partition, user, id, text, count_text(seq + 1 - now_us), tenant, ARGV[i + 3])
  if inserted then
    seq = seq + 1
    logged[#logged + 1] = user
    if outbox then
      local workflow = string.match(ARGV[i + 3], '^[^\n]*\n[^\n]*\n([^\n]*)')
      outbox_feed_event(partition, 'message.delivered', id, user, workflow, tenant, text)
    end
    users[user] = index
    out[#out + 1] = seq
  else
    out[#out + 1] = 0
  end
end
if seq ~= first_seq then
  redis.call('SET', seq_key, seq_text_of(seq))
  redis.call('XADD', log, '*', 's', seq_text_of(first_seq + 1), 'u', table.concat(logged, '\n'))
end
local below_cutoff = '(' .. seq_text_of(now_us - tonumber(ARGV[3]) * 1000)
for user, index in pairs(users) do trim_feed(partition, user, index, max_items, below_cutoff) end
return out
