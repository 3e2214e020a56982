#!lua
-- Takes messages of one partition for a delivery attempt. A message is sent
-- only while it is queued or delivery_attempted, has no retry waiting on the
-- timer and no other worker holds its lease; taking it sets the lease (a
-- worker that dies mid-send leaves it to expire, then any worker may retry).
--
-- KEYS: [1] delivery_due (ZSET), then one message key per message.
-- ARGV: [1] now us, [2] lease end us, [3] lease owner (the consumer).
-- Reply, per message: {'send', channel, channel_type, content, recipient,
-- workflow, tenant, attempts so far, inserted_at_us} or {verdict}:
-- 'done' (final status, or named twice in this call), 'gone' (expired or
-- deleted), 'scheduled' (a retry is due later) — the entry is finished — or
-- 'leased' (a worker is sending it, possibly this one from an earlier read:
-- leave the entry pending; once the lease lapses anyone may send it).
local due = KEYS[1]
local now, lease_until, owner = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local out, seen = {}, {}
for i = 2, #KEYS do
  local key = KEYS[i]
  local f = redis.call('HMGET', key, 'id', 'status', 'lease_until_us', 'lease_owner', 'channel', 'channel_type',
                       'content', 'recipient', 'workflow', 'tenant', 'attempts', 'inserted_at_us')
  if not f[1] then
    out[#out + 1] = {'gone'}
  elseif seen[key] or (f[2] ~= 'queued' and f[2] ~= 'delivery_attempted') then
    out[#out + 1] = {'done'}
  elseif redis.call('ZSCORE', due, f[1]) then
    out[#out + 1] = {'scheduled'}
  elseif f[3] and tonumber(f[3]) > now then
    out[#out + 1] = {'leased'}
  else
    seen[key] = true
    redis.call('HSET', key, 'lease_until_us', lease_until, 'lease_owner', owner)
    out[#out + 1] = {'send', f[5] or '', f[6] or '', f[7] or '', f[8] or '', f[9] or '', f[10] or '', f[11] or '0',
                     f[12] or '0'}
  end
end
return out
