-- The due counts of every target in the targets set, then leased and dead, as {leased, dead, {target, due,
-- target, due, ...}}; the sweep and depth scripts both start with it.
local function depth(prefix, leased, dead, targets)
  local per = {}
  for _, t in ipairs(redis.call('SMEMBERS', targets)) do
    per[#per + 1] = t
    per[#per + 1] = redis.call('ZCARD', prefix .. 'due:' .. t)
  end
  return {redis.call('ZCARD', leased), redis.call('ZCARD', dead), per}
end
