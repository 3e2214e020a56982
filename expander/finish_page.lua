#!lua
-- After a page's events are written: count it, enqueue the next page or
-- mark the fan-out done, and ack and delete this page's entry, in one
-- script, so a page is either redone (writing the same runs again, which
-- dedupe) or counted once.
--
-- KEYS: [1] the fan-out's progress hash, [2] the expansions stream.
-- ARGV: [1] consumer group, [2] this entry's id, [3] next page job ('' =
--       this was the last page), [4] subscribers in this page, [5] now ms.
-- Reply: 1 when the fan-out is done, else 0.
redis.call('HINCRBY', KEYS[1], 'recipients', tonumber(ARGV[4]))
redis.call('HINCRBY', KEYS[1], 'pages', 1)
if ARGV[3] ~= '' then
  redis.call('XADD', KEYS[2], '*', 'j', ARGV[3])
else
  redis.call('HSET', KEYS[1], 'status', 'done', 'finished_at', ARGV[5])
end
redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[2], ARGV[2])
if ARGV[3] == '' then return 1 end
return 0
