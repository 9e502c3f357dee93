#!lua flags=no-writes,allow-oom,allow-stale
-- KEYS: events, events:done. Runs on a replica and out of memory alike.
local role = string.match(redis.call('INFO', 'replication'), 'role:(%a+)') or ''
return {redis.call('INFO', 'memory'), role, redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2])}
