#!lua flags=no-writes
-- Samples one stream for the metrics, in one script so the numbers belong
-- to one moment: its length and, per consumer group, the consumers that
-- read recently, the entries pending (delivered, not acknowledged) and the
-- lag (entries not delivered to the group yet).
--
-- A consumer is never removed when its process dies, so the group's own
-- consumer count only grows: "active" counts those whose idle time is under
-- ARGV[1] ms. Redis 7.0 resets it only when a read returns entries (7.2 on
-- every read attempt), so on a quiet stream live consumers look idle too:
-- read "active" together with the lag.
-- Redis 7 reports a group's lag unless deletions inside the stream made
-- its counters unusable (lag nil); then the entries after the group's last
-- delivered id are counted, at most ARGV[2] of them.
--
-- KEYS: [1] the stream. ARGV: [1] active window ms, [2] lag count limit.
-- Reply: {length, {group, active consumers, pending, lag}, ...}; {0} when
-- the stream does not exist.
local stream = KEYS[1]
local active_ms, lag_limit = tonumber(ARGV[1]), tonumber(ARGV[2])
if redis.call('EXISTS', stream) == 0 then return {0} end
local reply = {redis.call('XLEN', stream)}
for _, group in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
  local field = {}
  for i = 1, #group, 2 do field[group[i]] = group[i + 1] end
  local lag = field['lag']
  if type(lag) ~= 'number' then
    lag = #redis.call('XRANGE', stream, '(' .. field['last-delivered-id'], '+', 'COUNT', lag_limit)
  end
  local active = 0
  if field['consumers'] > 0 then
    for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', stream, field['name'])) do
      for i = 1, #consumer, 2 do
        if consumer[i] == 'idle' and consumer[i + 1] < active_ms then active = active + 1 end
      end
    end
  end
  reply[#reply + 1] = {field['name'], active, field['pending'], lag}
end
return reply
