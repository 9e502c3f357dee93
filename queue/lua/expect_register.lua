-- Registers an expected order (README "Expected payments") once: a second registration of the same route
-- and order changes nothing and reads back what the first one stored.
-- KEYS: the expectation hash, the route's due set, the set of routes with expectations.
-- ARGV: route, order, amount, deadline (Unix ms), now (Unix ms).
-- Returns {1} when registered now, or {0, amount, deadline, state, created, status, closed_by, event}.
local f = redis.call('HMGET', KEYS[1], 'amount', 'deadline', 'state', 'created', 'status', 'closed_by',
  'event')
if f[3] then
  return {0, f[1] or '', f[2] or '', f[3], f[4] or '', f[5] or '', f[6] or '', f[7] or ''}
end
redis.call('HSET', KEYS[1], 'route', ARGV[1], 'order', ARGV[2], 'amount', ARGV[3], 'deadline', ARGV[4],
  'created', ARGV[5], 'state', 'open', 'polls', 0)
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[1])
return {1}
