#!lua
-- Adds or removes users from an object's subscribers.
--
-- KEYS: [1] the object's subscribers (ZSET, scores 0, paged by lex order).
-- ARGV: [1] 'add' | 'remove', then user ids.
-- Reply: {members changed, subscriber count}.
local changed = 0
for i = 2, #ARGV do
  if ARGV[1] == 'add' then
    changed = changed + redis.call('ZADD', KEYS[1], 0, ARGV[i])
  else
    changed = changed + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return {changed, redis.call('ZCARD', KEYS[1])}
