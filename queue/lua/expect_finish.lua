-- Ends one poll of an expected order: asked again at a later time, or given up (the dead set, with the last
-- status seen). Applied only while the expectation is open and still holds the poll's claim token.
-- KEYS: the expectation hash, the route's due set, the dead set.
-- ARGV: order, token, mode (retry|dead), time (next due, or when it died), last status, error or reason,
--       member of the dead set ("<route>\n<order>").
-- Returns 'ok', 'lost' (another claim holds it) or 'closed' (settled meanwhile).
local f = redis.call('HMGET', KEYS[1], 'state', 'lease')
if f[1] ~= 'open' then return 'closed' end
if f[2] ~= ARGV[2] then return 'lost' end
redis.call('HDEL', KEYS[1], 'lease')
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'last_status', ARGV[5]) end
if ARGV[3] == 'retry' then
  redis.call('HSET', KEYS[1], 'error', ARGV[6])
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
else
  redis.call('HSET', KEYS[1], 'state', 'dead', 'reason', ARGV[6], 'died_at', ARGV[4])
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[7])
end
return 'ok'
