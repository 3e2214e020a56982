-- The partition's message log (Keys::MessageLog): one entry per message
-- created, field 'm' = its id, the time index ListMessages reads. Shared by
-- every script that creates a message (records, queued messages, feed
-- items); include it by its path.

-- Appends `id` to `log_key` and trims entries older than `retention_ms`
-- (approximately: MINID ~), which name messages that expired with them.
local function log_message(log_key, id, retention_ms)
  local now = redis.call('TIME')
  local oldest_ms = tonumber(now[1]) * 1000 - tonumber(retention_ms)
  if oldest_ms < 0 then oldest_ms = 0 end
  redis.call('XADD', log_key, 'MINID', '~', oldest_ms, '*', 'm', id)
end
