-- The partition's message log (Keys::MessageLog): one entry per message
-- created, field 'm' = its id, the time index ListMessages reads. Shared by
-- every script that creates a message (records, queued messages, feed
-- items); include it by its path. Entries older than the message retention
-- are trimmed by retention/ (the stream trimmer), not on every append. The
-- feed insert appends one entry per call listing its items instead ('s' first
-- sequence, 'u' users; messages/list_log.lua reads both forms).

local function log_message(log_key, id)
  redis.call('XADD', log_key, '*', 'm', id)
end
