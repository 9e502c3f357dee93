-- ARGV: prefix, the walk's position key, entries to read.
-- Walks {p}:events from the oldest, from the position the last batch stored ("<score> <skip>"; none: the
-- start). Returns {{id, provider, data}... for the events without a listing, next position, done, entries
-- read, the position read at ('' for the start)}.
local POS, batch = ARGV[2], tonumber(ARGV[3])
local from, skip = '-inf', 0
local at = redis.call('GET', POS) or ''
local s, k = string.match(at, '^(%-?%d+) (%d+)$')
if s then from, skip = s, tonumber(k) end
local evs = redis.call('ZRANGEBYSCORE', EVENTS, from, '+inf', 'WITHSCORES', 'LIMIT', skip, batch)
local out, last, last_skip = {}, from, skip
for i = 1, #evs, 2 do
  local id, score = evs[i], evs[i + 1]
  if score == last then last_skip = last_skip + 1 else last, last_skip = score, 1 end
  local ev = P .. 'ev:' .. id
  if redis.call('EXISTS', ev) == 1 and redis.call('HEXISTS', ev, 'ix') == 0 then
    local p = parts(ev, 6)
    if not p.damaged then out[#out + 1] = {id, p.provider or '', p.data or ''} end
  end
end
local done = 0
if #evs < 2 * batch then done = 1 end
return {out, last .. ' ' .. last_skip, done, #evs / 2, at}
