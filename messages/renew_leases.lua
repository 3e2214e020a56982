#!lua
-- Renews the leases a worker holds on messages of one partition right
-- before it sends them. A message whose lease lapsed while it waited in the
-- worker's queue, and which another worker has taken since, or whose status
-- became final, is not sent by this one.
--
-- KEYS: one message key per message. ARGV: [1] owner, [2] new lease end us.
-- Reply, per message: 1 renewed (send it), 0 not this worker's any more.
local out = {}
for i = 1, #KEYS do
  local f = redis.call('HMGET', KEYS[i], 'lease_owner', 'status')
  if f[1] == ARGV[1] and (f[2] == 'queued' or f[2] == 'delivery_attempted') then
    redis.call('HSET', KEYS[i], 'lease_until_us', ARGV[2])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
