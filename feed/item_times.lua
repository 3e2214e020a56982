#!lua flags=no-writes
-- For tools: accepted/inserted times, tenant and body of a user's newest
-- items. KEYS: [1] the user's feed index. ARGV: [1] user, [2] count.
-- Reply: flat {accepted_at_us, inserted_at_us, tenant, item, ...}, newest first.
--!include core/keys.lua
--!include feed/feed_layout.lua
local partition = partition_of(KEYS[1])
local out = {}
for _, id in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)) do
  local record = read_record(partition, ARGV[1], id)
  if record then
    out[#out + 1] = record.accepted; out[#out + 1] = record.inserted
    out[#out + 1] = record.tenant; out[#out + 1] = record.body
  end
end
return out
