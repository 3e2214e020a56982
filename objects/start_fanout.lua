-- start_fanout(progress, expansions, job, object, workflow, now_ms): the
-- progress record of an object fan-out (kept 7 days) and its first page
-- job. Included by the trigger script, so a fan-out starts atomically with
-- the trigger that asks for it.
local function start_fanout(progress, expansions, job, object, workflow, now_ms)
  redis.call('HSET', progress, 'object', object, 'workflow', workflow, 'status', 'running', 'recipients', 0,
             'pages', 0, 'started_at', now_ms)
  redis.call('EXPIRE', progress, 604800)
  redis.call('XADD', expansions, '*', 'j', job)
end
