#!lua
-- Inserts in-app feed items of one partition unless their message exists
-- (message ids are deterministic: a replayed batch writes nothing twice).
--
-- KEYS, per item in order: the message, the user's feed "meta", the user's
--   "active", "unseen" and "unread" sets, and for an item of a tenant the
--   same three sets of the user's feed in that tenant.
-- ARGV, per item: tenant ('' = none), user, message id, body (serialized
--   FeedItem), channel, accepted_at_us, inserted_at_us, preferences note.
-- Reply: per item its new sequence number, or 0 when it already existed.
local out = {}
local k = 1
for i = 1, #ARGV, 8 do
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
    redis.call('HSET', message, 'recipient', user, 'item', ARGV[i + 3], 'channel', ARGV[i + 4], 'status', 'delivered',
               'seq', seq, 'accepted_at_us', ARGV[i + 5], 'inserted_at_us', ARGV[i + 6])
    if ARGV[i + 7] ~= '' then redis.call('HSET', message, 'preferences', ARGV[i + 7]) end
    if tenant ~= '' then redis.call('HSET', message, 'tenant', tenant) end
    for _, set in ipairs(sets) do redis.call('ZADD', set, seq, id) end
    out[#out + 1] = seq
  end
end
return out
