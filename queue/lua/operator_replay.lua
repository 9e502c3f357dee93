-- ARGV: prefix, now, id.  Returns {result (replayed|busy|nothing|not_found), {targets}, state}.
local now, id = ARGV[2], ARGV[3]
local ev = P .. 'ev:' .. id
if redis.call('EXISTS', ev) == 0 then return {'not_found', {}, ''} end
local ts = split(redis.call('HGET', ev, 'targets'))
for _, t in ipairs(ts) do
  local job = id .. '|' .. t
  if redis.call('ZSCORE', P .. 'due:' .. t, job) or redis.call('ZSCORE', LEASED, job) then
    return {'busy', {}, redis.call('HGET', ev, 'state') or ''}
  end
end
local again = {}
for _, t in ipairs(ts) do
  if string.sub(t, 1, 1) ~= '@' and redis.call('HGET', ev, 'status:' .. t) == 'delivered' then
    requeue(ev, id, t, now)
    again[#again + 1] = t
  end
end
if #again == 0 then return {'nothing', {}, redis.call('HGET', ev, 'state') or ''} end
return {'replayed', again, recompute(ev)}
