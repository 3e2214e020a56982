#!lua
-- Records a message that did not reach the feed (not_sent / undelivered,
-- with its reason) unless its id is already recorded, and indexes it under
-- the user so deleting or merging the user finds it.
--
-- KEYS: [1] the message, [2] the user's records set.
-- ARGV: field/value pairs, starting with 'id', <message id>.
-- Reply: 1 written, 0 already there.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
redis.call('SADD', KEYS[2], ARGV[2])
return 1
