-- A feed item lives in its user's whole feed and, when it belongs to a
-- tenant, also in the user's feed within that tenant (the same sets, so a
-- tenant-scoped feed has O(1) counts too). These apply a set change to
-- both. Needs core/keys.lua.
local function feed_zadd(partition, user, tenant, set_name, sequence, id)
  redis.call('ZADD', feed_set_key(partition, user, set_name), sequence, id)
  if tenant and tenant ~= '' then
    redis.call('ZADD', tenant_feed_set_key(partition, tenant, user, set_name), sequence, id)
  end
end
local function feed_zrem(partition, user, tenant, set_name, id)
  redis.call('ZREM', feed_set_key(partition, user, set_name), id)
  if tenant and tenant ~= '' then redis.call('ZREM', tenant_feed_set_key(partition, tenant, user, set_name), id) end
end
