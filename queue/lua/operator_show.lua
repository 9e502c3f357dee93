-- ARGV: prefix, id.  Returns 0, or {HGETALL, attempt records, summary}.
local id = ARGV[2]
local ev = P .. 'ev:' .. id
if redis.call('EXISTS', ev) == 0 then return 0 end
return {redis.call('HGETALL', ev), redis.call('LRANGE', P .. 'attempts:' .. id, 0, -1), summary(id)}
