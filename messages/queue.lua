#!lua
-- Records a rendered email/sms/push/chat message as queued and hands it to
-- the delivery services through the deliveries stream, unless its id is
-- already recorded (a replayed batch queues nothing twice). Indexes it in
-- the partition's message log with its creation event; the message and its
-- events expire after the retention.
--
-- KEYS: [1] the message, [2] the user's records set, [3] the deliveries
--       stream, [4] the partition's message log, [5] the message's events.
-- ARGV: [1] retention ms, then field/value pairs starting with 'id',
--       <message id>, including 'inserted_at_us'. The pair 'fallback',
--       <serialized BatchEnvelope> comes only when the step has a fallback
--       (the dispatcher XADDs it to the batches stream when the delivery
--       ends undelivered).
-- Event times are strings: cjson writes numbers with 14 digits, too few
-- for microseconds.
-- Reply: 1 queued, 0 already there.
--!include core/keys.lua
--!include messages/message_events.lua
--!include messages/message_log.lua
local message, records, deliveries, log, events = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
if redis.call('EXISTS', message) == 1 then return 0 end
local retention, id = ARGV[1], ARGV[3]
redis.call('HSET', message, unpack(ARGV, 2))
redis.call('PEXPIRE', message, retention)
redis.call('SADD', records, id)
redis.call('XADD', deliveries, '*', 'm', id)
log_message(log, id)
local at_us = redis.call('HGET', message, 'inserted_at_us') or '0'
append_message_event(message, events, {type = 'message.queued', at_us = at_us, status = 'queued', reason = ''})
outbox_message_event(message, 'message.queued', at_us)
return 1
