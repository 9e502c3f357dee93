-- ARGV: prefix, now, dead jobs to count.
-- Returns {events, leased, leases expired, dead, oldest dead, dead counted, {{target, due, overdue, oldest
-- due}...}, {target, dead, ...}, {route, dead, ...}, complete events, INFO memory}.
local now, scan = ARGV[2], tonumber(ARGV[3])
local per = {}
for _, t in ipairs(redis.call('SMEMBERS', TARGETS)) do
  local due = P .. 'due:' .. t
  local first = redis.call('ZRANGE', due, 0, 0, 'WITHSCORES')
  per[#per + 1] = {t, redis.call('ZCARD', due), redis.call('ZCOUNT', due, '-inf', now), first[2] or ''}
end
local by_target, by_route, counted = {}, {}, 0
for _, job in ipairs(redis.call('ZRANGE', DEAD, 0, scan - 1)) do
  counted = counted + 1
  local bar = string.find(job, '|', 1, true)
  if bar then
    local t = string.sub(job, bar + 1)
    by_target[t] = (by_target[t] or 0) + 1
    local r = routeOf(P .. 'ev:' .. string.sub(job, 1, bar - 1)) or ''
    by_route[r] = (by_route[r] or 0) + 1
  end
end
local bt, br = {}, {}
for k, v in pairs(by_target) do bt[#bt + 1] = k; bt[#bt + 1] = v end
for k, v in pairs(by_route) do br[#br + 1] = k; br[#br + 1] = v end
local oldest = redis.call('ZRANGE', DEAD, 0, 0, 'WITHSCORES')
return {redis.call('ZCARD', EVENTS), redis.call('ZCARD', LEASED), redis.call('ZCOUNT', LEASED, '-inf', '(' .. now),
  redis.call('ZCARD', DEAD), oldest[2] or '', counted, per, bt, br, redis.call('ZCARD', EVENTS .. ':done'),
  redis.call('INFO', 'memory')}
