-- ARGV: prefix, mode (retry|purge), now, route, max score, cursor score, cursor kept, batch.
-- Walks {p}:dead up from the cursor; `kept` counts the entries at the cursor's score that stay in the set
-- (other routes, skipped events), since the ones acted on leave it. Returns {done, skipped, score, kept,
-- finished}.
local mode, now, route, max = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local last, kept, batch = ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8])
if last == '' then last = '-inf' end
local items = redis.call('ZRANGEBYSCORE', DEAD, last, max, 'WITHSCORES', 'LIMIT', kept, batch)
local done, skipped = 0, 0
for i = 1, #items, 2 do
  local job, score = items[i], items[i + 1]
  if score ~= last then last, kept = score, 0 end
  local bar = string.find(job, '|', 1, true)
  local id = bar and string.sub(job, 1, bar - 1)
  local ev = id and (P .. 'ev:' .. id)
  if not ev or redis.call('EXISTS', ev) == 0 then
    redis.call('ZREM', DEAD, job)
  elseif route ~= '' and routeOf(ev) ~= route then
    kept = kept + 1
  elseif mode == 'retry' then
    requeue(ev, id, string.sub(job, bar + 1), now)
    recompute(ev)
    done = done + 1
  else
    local ts = split(redis.call('HGET', ev, 'targets'))
    local busy = false
    for _, t in ipairs(ts) do
      local j = id .. '|' .. t
      if redis.call('ZSCORE', P .. 'due:' .. t, j) or redis.call('ZSCORE', LEASED, j) then busy = true end
    end
    if busy then
      kept = kept + 1
      skipped = skipped + 1
    else
      for _, t in ipairs(ts) do redis.call('ZREM', DEAD, id .. '|' .. t) end
      redis.call('ZREM', DEAD, job)
      unindex(P .. 'find', ev, id)
      redis.call('DEL', ev, P .. 'attempts:' .. id)
      redis.call('ZREM', EVENTS, id)
      redis.call('ZREM', EVENTS .. ':done', id)
      done = done + 1
    end
  end
end
local finished = 0
if #items < 2 * batch then finished = 1 end
return {done, skipped, last, kept, finished}
