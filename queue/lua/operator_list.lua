-- ARGV: prefix, mode (events|dead), state, route, max score, min score, skip, entries to scan, limit.
-- Walks down from (max, skip). Returns {{summary[, dead target, dead score]}..., last score, skip, done,
-- scanned}.
local mode, state, route = ARGV[2], ARGV[3], ARGV[4]
local max, min, skip, scan, limit = ARGV[5], ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local key = EVENTS
if mode == 'dead' then key = DEAD end
local items = redis.call('ZREVRANGEBYSCORE', key, max, min, 'WITHSCORES', 'LIMIT', skip, scan)
local out, last, last_skip, seen = {}, max, skip, 0
for i = 1, #items, 2 do
  local member, score = items[i], items[i + 1]
  if score == last then last_skip = last_skip + 1 else last, last_skip = score, 1 end
  seen = seen + 1
  local id, target = member, ''
  if mode == 'dead' then
    local bar = string.find(member, '|', 1, true)
    if bar then id, target = string.sub(member, 1, bar - 1), string.sub(member, bar + 1) else id = nil end
  end
  if id then
    local ev = P .. 'ev:' .. id
    local s = redis.call('HGET', ev, 'state')
    local p = s and (mode == 'dead' or state == 'all' or s == state) and parts(ev, 5)
    if p and (route == '' or p.route == route) then
      local row = summary(id, p)
      if mode == 'dead' then row[11] = target; row[12] = score end
      out[#out + 1] = row
      if #out >= limit then break end
    end
  end
end
local done = 0
if seen == #items / 2 and #items < 2 * scan then done = 1 end
return {out, last, last_skip, done, seen}
