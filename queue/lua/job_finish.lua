-- Finishes a batch of jobs, each exactly as if it were alone: the batch saves Redis a script call, a reply
-- and a round trip per job, the larger part of what a finished delivery costs it. A job's keys are built
-- from ARGV[1] ("{prefix}:"), so they carry the declared keys' hash tag and the script stays on one slot.
-- An event hash holds "state" and its packed parts "e" (or "id", in the older layout, event_record.h) from
-- the store on: a hash with none of them is a deleted event. The completion tests "state" first, so it never
-- copies the packed parts out.
-- KEYS: leased, dead, targets set, the retention index.
-- ARGV: key prefix, records kept, then per job eleven values: job, target, token, mode
--       (complete|reschedule|bury|release), time (due, dead or release score), record JSON without its
--       "attempt", reason, follow-up target, decision, has follow-up, queue the follow-up job ('1') or record
--       the decision alone ('0').
--       A re-check's job (JobQueue::settle()) has mode confirm or refute, its note as the reason, the
--       event's new listing in place of "has follow-up" and, when confirmed, the targets to queue
--       (comma-separated) as the follow-up target, the event's new packed parts as the decision and, in
--       place of "queue the follow-up job", the expected order it speaks of: empty, or the event's
--       idempotency key (whose TTL a closed expectation takes) and then the lines of expect_settle.lua.
-- Returns one of 'ok', 'lost' or 'gone' per job, in order.
local prefix, keep = ARGV[1], tonumber(ARGV[2])
local leased, dead, targets_key, done_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]

-- Events that became delivered, joined to the retention index together at the end: one ZADD for the batch.
local done = {}

-- Replaces an event's listing, and its keys in the find index with it.
local function relist(ev, event_id, ix)
  local find = prefix .. 'find'
  unindex(find, ev, event_id)
  local members = {}
  for _, k in ipairs(listingKeys(ix)) do
    members[#members + 1] = 0
    members[#members + 1] = k .. '\n' .. event_id
  end
  if #members > 0 then redis.call('ZADD', find, unpack(members)) end
  redis.call('HSET', ev, 'ix', ix)
end

local function finish(a)
  local job, target, token, mode, when = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local event_id = string.sub(job, 1, -#target - 2)
  local ev, due = prefix .. 'ev:' .. event_id, prefix .. 'due:' .. target
  local f = redis.call('HMGET', ev, 'state', 'lease:' .. target, 'attempts:' .. target, 'targets')
  if not f[1] and redis.call('HEXISTS', ev, 'e') == 0 and redis.call('HEXISTS', ev, 'id') == 0 then
    redis.call('ZREM', due, job)
    redis.call('ZREM', leased, job)
    return 'gone'
  end
  if f[2] ~= token then return 'lost' end
  local state, list = f[1], f[4] or ''
  redis.call('HDEL', ev, 'lease:' .. target)
  -- A job is leased or, once the sweep took its expired lease back, due: never both.
  if redis.call('ZREM', leased, job) == 0 then redis.call('ZREM', due, job) end
  if mode == 'release' then
    redis.call('HSET', ev, 'attempts:' .. target, (tonumber(f[3]) or 1) - 1)
    redis.call('ZADD', due, when, job)
    return 'ok'
  end
  local attempts = prefix .. 'attempts:' .. event_id
  if redis.call('RPUSH', attempts, '{"attempt":' .. (f[3] or '0') .. ',' .. string.sub(ARGV[a + 5], 2)) > keep then
    redis.call('LTRIM', attempts, -keep, -1)
  end
  if mode == 'confirm' or mode == 'refute' then relist(ev, event_id, ARGV[a + 9]) end
  if mode == 'confirm' then
    -- A confirmed notification settles its expected order now, not when it was stored: one the API
    -- refutes never closes it. Reconciliation that reported the state meanwhile holds it back.
    local order = ARGV[a + 10]
    local nl = string.find(order, '\n', 1, true)
    if nl then
      local ttl = redis.call('TTL', string.sub(order, 1, nl - 1))
      -- The key expired or has no TTL: a day, as long as a late repeat is likely.
      if ttl <= 0 then ttl = 86400 end
      local held_back = settleExpectation(string.sub(order, nl + 1), event_id, when, ttl, true)
      if held_back then
        redis.call('HSET', ev, 'e', ARGV[a + 8], 'recheck', ARGV[a + 6], 'status:' .. target, 'delivered',
          'state', 'stored', 'same_as', held_back)
        done[#done + 1] = when
        done[#done + 1] = event_id
        return 'ok'
      end
    end
    -- The provider's API confirmed the event: it is forwarded as the API reports it, to the targets the
    -- route names now. A target job already leased (an operator's replay) is not queued twice.
    local queued = 0
    for t in string.gmatch(ARGV[a + 7], '[^,]+') do
      local known = false
      for k in string.gmatch(list, '[^,]+') do if k == t then known = true end end
      if not known then list = (list == '') and t or (list .. ',' .. t) end
      local j = event_id .. '|' .. t
      if not redis.call('ZSCORE', leased, j) then
        redis.call('ZADD', prefix .. 'due:' .. t, when, j)
        redis.call('SADD', targets_key, t)
      end
      queued = queued + 1
    end
    local next_state = 'pending'
    if queued == 0 then
      next_state = 'delivered'
      done[#done + 1] = when
      done[#done + 1] = event_id
    end
    redis.call('HSET', ev, 'e', ARGV[a + 8], 'recheck', ARGV[a + 6], 'targets', list, 'status:' .. target,
      'delivered', 'state', next_state)
    return 'ok'
  elseif mode == 'refute' then
    -- The API contradicts the notification: kept for the operator, never forwarded, and complete.
    redis.call('HSET', ev, 'status:' .. target, 'refuted', 'reason:' .. target, ARGV[a + 6], 'recheck',
      ARGV[a + 6], 'state', 'stored')
    done[#done + 1] = when
    done[#done + 1] = event_id
    return 'ok'
  end
  if mode == 'complete' then
    if ARGV[a + 9] == '1' then
      local next = ARGV[a + 7]
      local next_job = event_id .. '|' .. next
      -- A decision already carried out (or being carried out) stays the event's decision: a replayed
      -- notify neither changes it nor calls the API again.
      local settled = redis.call('HGET', ev, 'status:' .. next) or redis.call('ZSCORE', leased, next_job)
          or redis.call('ZSCORE', dead, next_job)
          or redis.call('ZSCORE', prefix .. 'due:' .. next, next_job)
      if not settled then
        redis.call('HSET', ev, 'decision', ARGV[a + 8])
        if ARGV[a + 10] == '1' then
          local known = false
          for t in string.gmatch(list, '[^,]+') do if t == next then known = true end end
          if not known then
            list = (list == '') and next or (list .. ',' .. next)
            redis.call('HSET', ev, 'targets', list)
          end
          redis.call('ZADD', prefix .. 'due:' .. next, when, next_job)
          redis.call('SADD', targets_key, next)
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
      done[#done + 1] = when
      done[#done + 1] = event_id
    else
      redis.call('HSET', ev, 'status:' .. target, 'delivered')
    end
  elseif mode == 'reschedule' then
    redis.call('ZADD', due, when, job)
    if state ~= 'dead' and state ~= 'retrying' then redis.call('HSET', ev, 'state', 'retrying') end
  else
    redis.call('ZADD', dead, when, job)
    redis.call('HSET', ev, 'status:' .. target, 'dead', 'reason:' .. target, ARGV[a + 6], 'state', 'dead')
  end
  return 'ok'
end

local out = {}
for a = 3, #ARGV - 10, 11 do
  out[#out + 1] = finish(a)
end
-- unpack() is bounded by Lua's C stack: chunks of 500 members.
for i = 1, #done, 1000 do
  redis.call('ZADD', done_key, unpack(done, i, math.min(i + 999, #done)))
end
return out
