-- ARGV: prefix, now, ids...  Returns {{id, result (retried|nothing|not_found), {revived}, {hurried},
-- state}...}.
local now = ARGV[2]
local out = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local ev = P .. 'ev:' .. id
  if redis.call('EXISTS', ev) == 0 then
    out[#out + 1] = {id, 'not_found', {}, {}, ''}
  else
    local revived, hurried = {}, {}
    for _, t in ipairs(split(redis.call('HGET', ev, 'targets'))) do
      local job = id .. '|' .. t
      local s = redis.call('HGET', ev, 'status:' .. t)
      -- A re-check the provider's API refuted is asked again, as a dead job is sent again.
      if s == 'dead' or s == 'refuted' then
        requeue(ev, id, t, now)
        revived[#revived + 1] = t
      elseif not s then
        local due = redis.call('ZSCORE', P .. 'due:' .. t, job)
        if due then
          if tonumber(due) > tonumber(now) then
            redis.call('ZADD', P .. 'due:' .. t, now, job)
            hurried[#hurried + 1] = t
          end
        elseif not redis.call('ZSCORE', LEASED, job) then
          requeue(ev, id, t, now)
          revived[#revived + 1] = t
        end
      end
    end
    local state = redis.call('HGET', ev, 'state') or ''
    local result = 'nothing'
    if #revived + #hurried > 0 then
      state, result = recompute(ev), 'retried'
    end
    out[#out + 1] = {id, result, revived, hurried, state}
  end
end
return out
