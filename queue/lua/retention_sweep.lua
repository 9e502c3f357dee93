-- KEYS: events:done, events, leased, dead, events:done:scan.  ARGV: key prefix, cutoff, max.
-- Returns {removed, dropped, batch full, indexed, walk complete}.
-- Keys of one event or target are built from the prefix, as JobQueue's scripts do: same hash tag.
local P, DONE, EVENTS, LEASED, DEAD, SCAN = ARGV[1], KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local cutoff, max = ARGV[2], tonumber(ARGV[3])
-- The targets of a complete event: delivered (or without targets) and no job waiting or in flight, which
-- a delivered event cannot have unless an operator is about to change it; nil otherwise.
local function complete(ev, id)
  local f = redis.call('HMGET', ev, 'state', 'targets')
  if f[1] ~= 'delivered' and f[1] ~= 'stored' then return nil end
  local ts = {}
  for t in string.gmatch(f[2] or '', '[^,]+') do
    local job = id .. '|' .. t
    if redis.call('ZSCORE', P .. 'due:' .. t, job) or redis.call('ZSCORE', LEASED, job) then return nil end
    ts[#ts + 1] = t
  end
  return ts
end
local ids = redis.call('ZRANGEBYSCORE', DONE, '-inf', cutoff, 'LIMIT', 0, max)
local removed, dropped = 0, 0
for _, id in ipairs(ids) do
  local ev = P .. 'ev:' .. id
  local ts = complete(ev, id)
  redis.call('ZREM', DONE, id)
  if ts then
    for _, t in ipairs(ts) do redis.call('ZREM', DEAD, id .. '|' .. t) end
    unindex(P .. 'find', ev, id)
    redis.call('DEL', ev, P .. 'attempts:' .. id)
    redis.call('ZREM', EVENTS, id)
    removed = removed + 1
  else
    -- Delivered again (replay, retry): indexed anew when it completes. Gone (purged): nothing to keep.
    if redis.call('EXISTS', ev) == 0 then
      redis.call('DEL', P .. 'attempts:' .. id)
      redis.call('ZREM', EVENTS, id)
    end
    dropped = dropped + 1
  end
end
local indexed, walked = 0, 1
local pos = redis.call('GET', SCAN)
if pos ~= 'complete' then
  walked = 0
  local from, skip = '-inf', 0
  local s, k = string.match(pos or '', '^(%-?%d+) (%d+)$')
  if s then from, skip = s, tonumber(k) end
  local evs = redis.call('ZRANGEBYSCORE', EVENTS, from, '+inf', 'WITHSCORES', 'LIMIT', skip, max)
  local last, last_skip = from, skip
  for i = 1, #evs, 2 do
    local id, score = evs[i], evs[i + 1]
    if score == last then last_skip = last_skip + 1 else last, last_skip = score, 1 end
    if not redis.call('ZSCORE', DONE, id) and complete(P .. 'ev:' .. id, id) then
      local at = string.match(redis.call('LINDEX', P .. 'attempts:' .. id, -1) or '', '"at":(%d+)')
      redis.call('ZADD', DONE, at or score, id)
      indexed = indexed + 1
    end
  end
  if #evs < 2 * max then
    redis.call('SET', SCAN, 'complete')
    walked = 1
  else
    redis.call('SET', SCAN, last .. ' ' .. last_skip)
  end
end
local full = 0
if #ids >= max then full = 1 end
return {removed, dropped, full, indexed, walked}
