#!lua
-- Adds or removes an object from the subscription sets of users of one
-- partition (so deleting or merging a user finds what they follow).
--
-- KEYS: each user's subscriptions set.
-- ARGV: [1] 'add' | 'remove', [2] the object ref.
-- Reply: 1.
for _, key in ipairs(KEYS) do
  if ARGV[1] == 'add' then redis.call('SADD', key, ARGV[2]) else redis.call('SREM', key, ARGV[2]) end
end
return 1
