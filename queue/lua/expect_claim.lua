-- Claims expected orders whose deadline (or next poll) is due, for the reconciler: each is pushed to the
-- lease's expiry in its due set, so one that a killed process never answered comes back by itself, and is
-- marked with the claim's token, which its finish must show.
-- Keys are built from ARGV[1] ("{prefix}:"), under the declared key's hash tag.
-- KEYS: the set of routes with expectations (declared for the slot).
-- ARGV: key prefix, now, lease expiry, token, then (route, max) pairs.
-- Returns per order claimed {route, order, deadline, created, polls (this one counted), status, amount}.
local prefix, now, expiry, token = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local out = {}
for a = 5, #ARGV - 1, 2 do
  local route, max = ARGV[a], tonumber(ARGV[a + 1])
  if max and max > 0 then
    local due = prefix .. 'expect:due:' .. route
    for _, order in ipairs(redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, max)) do
      local exp = prefix .. 'exp:' .. route .. ':' .. order
      local f = redis.call('HMGET', exp, 'state', 'deadline', 'created', 'polls', 'status', 'amount')
      if f[1] ~= 'open' then
        redis.call('ZREM', due, order)
      else
        local polls = (tonumber(f[4]) or 0) + 1
        redis.call('ZADD', due, expiry, order)
        redis.call('HSET', exp, 'lease', token, 'polls', polls)
        out[#out + 1] = {route, order, f[2] or '0', f[3] or '0', polls, f[5] or '', f[6] or ''}
      end
    end
  end
end
return out
