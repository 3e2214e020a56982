#!lua
-- Writes messages taken from another user into this user's feed and
-- records: feed items get new sequence numbers and keep their seen / read
-- / interacted / archived state. A message already adopted (a repeat after
-- a crash) is skipped. A feed item goes to the feed of the same name
-- (field 'feed', absent for the main feed).
--
-- KEYS: [1] the user's feed index, [2] the user's records set, [3] the
--       partition's feed sequence.
-- ARGV: [1] user, [2] now us, then per message: kind ('1' feed item, '0'
--       record), id, field count, fields...
-- Reply: messages adopted.
--!include core/keys.lua
--!include feed/feed_layout.lua
local records, seq_key = KEYS[2], KEYS[3]
local user = ARGV[1]
local partition = partition_of(KEYS[1])
-- The watermarks of each feed the chunk touches, read once.
local marks_of = {}
local function marks_for(fp)
  if not marks_of[fp] then marks_of[fp] = watermarks(fp, user) end
  return marks_of[fp]
end
local seq = sequence_from(seq_key, tonumber(ARGV[2]))
local first_seq = seq
local adopted = 0
local i = 3
while i <= #ARGV do
  local kind, id, n = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local f = {}
  for k = i + 3, i + 1 + n, 2 do f[ARGV[k]] = ARGV[k + 1] end
  if kind == '1' then
    local tenant = f.tenant or ''
    local channel = f.channel or ''
    if channel == 'in_app_feed' then channel = '' end
    -- Inserted now (lag 0): accepted_at_us is kept as its distance to seq.
    local accepted_delta = string.format('%d', (seq + 1) - (tonumber(f.accepted_at_us) or 0))
    local tail = table.concat({accepted_delta, tenant, f.workflow or '', f.workflow_run_id or '', channel,
                               f.preferences or '', f.item or ''}, '\n')
    local text = seq_text_of(seq + 1)
    local fp = feed_prefix(partition, f.feed)
    if insert_item(fp, user, id, text, '0', tenant, tail) then
      seq = seq + 1
      if fp ~= partition then redis.call('SADD', feed_set_key(partition, user, 'feeds'), f.feed) end
      local marks = marks_for(fp)
      local state = {f.seen_at or '', f.read_at or '', f.interacted_at or '', f.archived_at or ''}
      if state[4] ~= '' then
        both_scopes(fp, user, tenant, 'archived', function(k) redis.call('ZADD', k, text, id) end)
        leave_counts(fp, user, tenant, marks, seq, id)
      else
        for s, which in ipairs(FEED_STATES) do set_active_state(fp, user, tenant, marks, which, seq, id, state[s] ~= '') end
      end
      redis.call('HSET', feed_set_key(fp, user, 'state'), id, format_state(state))
      adopted = adopted + 1
    end
  elseif redis.call('HGET', message_key(partition, id), 'recipient') ~= user then
    local key = message_key(partition, id)
    if n > 0 then redis.call('HSET', key, unpack(ARGV, i + 3, i + 2 + n)) end
    redis.call('HSET', key, 'recipient', user)
    redis.call('SADD', records, id)
    adopted = adopted + 1
  end
  i = i + 3 + n
end
if seq ~= first_seq then redis.call('SET', seq_key, seq_text_of(seq)) end
return adopted
