#!lua
-- Records a rendered email/sms/push/chat message as queued and hands it to
-- the delivery services through the deliveries stream, unless its id is
-- already recorded (a replayed batch queues nothing twice).
--
-- KEYS: [1] the message, [2] the user's records set, [3] the deliveries stream.
-- ARGV: field/value pairs, starting with 'id', <message id>. The pair
--       'fallback', <serialized BatchEnvelope> comes only when the step has
--       a fallback (the dispatcher XADDs it to the batches stream when the
--       delivery ends undelivered); a hash without the field has none.
-- Reply: 1 queued, 0 already there.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('XADD', KEYS[3], '*', 'm', ARGV[2])
return 1
