#!lua
-- Records a message that did not reach the feed (not_sent / undelivered,
-- with its reason) unless its id is already recorded, and indexes it under
-- the user (so deleting or merging the user finds it) and in the
-- partition's message log, with its creation event. The message and its
-- events expire after the retention.
--
-- KEYS: [1] the message, [2] the user's records set, [3] the partition's
--       message log, [4] the message's events.
-- ARGV: [1] retention ms, then field/value pairs starting with 'id',
--       <message id>, including 'status', 'reason' and 'inserted_at_us'.
-- Event times are strings: cjson writes numbers with 14 digits, too few
-- for microseconds.
-- Reply: 1 written, 0 already there.
--!include core/keys.lua
--!include messages/message_events.lua
--!include messages/message_log.lua
local message, records, log, events = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
if redis.call('EXISTS', message) == 1 then return 0 end
local retention, id = ARGV[1], ARGV[3]
redis.call('HSET', message, unpack(ARGV, 2))
redis.call('PEXPIRE', message, retention)
redis.call('SADD', records, id)
log_message(log, id)
local m = redis.call('HMGET', message, 'status', 'reason', 'inserted_at_us')
append_message_event(message, events,
                     {type = 'message.' .. m[1], at_us = m[3] or '0', status = m[1], reason = m[2] or ''})
outbox_message_event(message, 'message.' .. m[1], m[3] or '0')
return 1
