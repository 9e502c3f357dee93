-- An event hash holds "state" and its packed parts "e" (or "id", in the older layout, event_record.h) from
-- the store on: a hash with none of them is a deleted event. The completion tests "state" first, so it never
-- copies the packed parts out.
-- KEYS: the job's due set, leased, dead, attempts list, event hash, targets set, the retention index.
-- ARGV: job, target, token, mode (complete|reschedule|bury|release), time (due, dead or release score),
--       record JSON without its "attempt", reason, records kept, follow-up target, decision, has follow-up,
--       queue the follow-up job ('1') or record the decision alone ('0').
-- Returns 'ok', 'lost' or 'gone'.
local job, target, mode, ev = ARGV[1], ARGV[2], ARGV[4], KEYS[5]
local f = redis.call('HMGET', ev, 'state', 'lease:' .. target, 'attempts:' .. target, 'targets')
if not f[1] and redis.call('HEXISTS', ev, 'e') == 0 and redis.call('HEXISTS', ev, 'id') == 0 then
  redis.call('ZREM', KEYS[1], job)
  redis.call('ZREM', KEYS[2], job)
  return 'gone'
end
if f[2] ~= ARGV[3] then return 'lost' end
local state, list = f[1], f[4] or ''
redis.call('HDEL', ev, 'lease:' .. target)
redis.call('ZREM', KEYS[2], job)
redis.call('ZREM', KEYS[1], job)
if mode == 'release' then
  redis.call('HSET', ev, 'attempts:' .. target, (tonumber(f[3]) or 1) - 1)
  redis.call('ZADD', KEYS[1], ARGV[5], job)
  return 'ok'
end
local keep = tonumber(ARGV[8])
if redis.call('RPUSH', KEYS[4], '{"attempt":' .. (f[3] or '0') .. ',' .. string.sub(ARGV[6], 2)) > keep then
  redis.call('LTRIM', KEYS[4], -keep, -1)
end
if mode == 'complete' then
  if ARGV[11] == '1' then
    local next = ARGV[9]
    local next_job = string.sub(job, 1, -#target - 2) .. '|' .. next
    -- A decision already carried out (or being carried out) stays the event's decision: a replayed
    -- notify neither changes it nor calls the API again.
    local settled = redis.call('HGET', ev, 'status:' .. next) or redis.call('ZSCORE', KEYS[2], next_job)
        or redis.call('ZSCORE', KEYS[3], next_job)
        or redis.call('ZSCORE', string.sub(KEYS[1], 1, -#target - 1) .. next, next_job)
    if not settled then
      redis.call('HSET', ev, 'decision', ARGV[10])
      if ARGV[12] == '1' then
        local known = false
        for t in string.gmatch(list, '[^,]+') do if t == next then known = true end end
        if not known then
          list = (list == '') and next or (list .. ',' .. next)
          redis.call('HSET', ev, 'targets', list)
        end
        redis.call('ZADD', string.sub(KEYS[1], 1, -#target - 1) .. next, ARGV[5], next_job)
        redis.call('SADD', KEYS[6], next)
      end
    end
  end
  local all = state ~= 'dead'
  if all then
    for t in string.gmatch(list, '[^,]+') do
      if t ~= target and redis.call('HGET', ev, 'status:' .. t) ~= 'delivered' then
        all = false
        break
      end
    end
  end
  if all then
    redis.call('HSET', ev, 'status:' .. target, 'delivered', 'state', 'delivered')
    redis.call('ZADD', KEYS[7], ARGV[5], string.sub(job, 1, -#target - 2))
  else
    redis.call('HSET', ev, 'status:' .. target, 'delivered')
  end
elseif mode == 'reschedule' then
  redis.call('ZADD', KEYS[1], ARGV[5], job)
  if state ~= 'dead' and state ~= 'retrying' then redis.call('HSET', ev, 'state', 'retrying') end
else
  redis.call('ZADD', KEYS[3], ARGV[5], job)
  redis.call('HSET', ev, 'status:' .. target, 'dead', 'reason:' .. target, ARGV[7], 'state', 'dead')
end
return 'ok'
