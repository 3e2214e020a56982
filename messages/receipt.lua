#!lua
-- A provider's receipt for a message (an SMS status callback, an email
-- bounce): moves a queued / delivery_attempted / sent message to delivered,
-- undelivered or bounced, and a delivered one to undelivered or bounced (a
-- late bounce). A failed message is never made delivered by an older
-- receipt; a repeated receipt changes nothing. Refusals change nothing.
--
-- KEYS: [1] the message, [2] its events.
-- ARGV: [1] user, [2] status (delivered | undelivered | bounced),
--       [3] reason, [4] now (us).
-- Reply: HGETALL of the message afterwards.
--!include core/keys.lua
--!include messages/message_events.lua
local message, events = KEYS[1], KEYS[2]
local user, status, reason, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local m = redis.call('HMGET', message, 'recipient', 'status', 'item')
-- A feed item has no message hash: it lives in one of its user's feeds.
local in_feed = false
if not m[1] then
  local partition = partition_of(message)
  local id = string.sub(message, #message_key(partition, '') + 1)
  local feeds = redis.call('SMEMBERS', feed_set_key(partition, user, 'feeds'))
  table.insert(feeds, 1, '')
  for _, feed in ipairs(feeds) do
    if redis.call('HEXISTS', feed_set_key(feed_prefix(partition, feed), user, 'items'), id) == 1 then
      in_feed = true
      break
    end
  end
end
if m[1] ~= user and not in_feed then
  return redis.error_reply('HERALD NOT_FOUND message_id: no message for user ' .. user)
end
if m[3] or in_feed then
  return redis.error_reply('HERALD FAILED_PRECONDITION message_id: an in-app message takes no provider receipt')
end
local current = m[2]
if current ~= status then
  local open = current == 'queued' or current == 'delivery_attempted' or current == 'sent'
  local late_failure = current == 'delivered' and status ~= 'delivered'
  if not open and not late_failure then
    return redis.error_reply('HERALD FAILED_PRECONDITION status: the message is ' .. tostring(current) ..
                             ', a receipt cannot make it ' .. status)
  end
  set_message_status(message, events, status, reason, now)
end
return redis.call('HGETALL', message)
