-- The event hash key of a job depends on the job, so it is built from ARGV[1] ("{prefix}:"): it carries the
-- same hash tag as the declared keys, and the script stays on one slot.
-- Each redis.call costs Redis a few microseconds, more than anything else a delivery costs it, so this
-- script and the finish script read an event's fields in one HMGET and write them in one HSET, and the claim
-- moves its jobs between sorted sets in bulk.
-- KEYS: leased.  ARGV: key prefix, now, lease expiry, token, then (target, max) pairs.
-- Returns one entry per job taken off a due set: {0, job} dropped, or {1, job, attempt, parts, decision,
-- since}, parts being the packed field or, for an event of the older layout, its twelve fields.
local prefix, now, expiry, token = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
-- unpack() is bounded by Lua's C stack: bulk commands go out in chunks.
local function bulk(cmd, key, args)
  for i = 1, #args, 1000 do
    redis.call(cmd, key, unpack(args, i, math.min(i + 999, #args)))
  end
end
local out, leased = {}, {}
for a = 5, #ARGV - 1, 2 do
  local target, max = ARGV[a], tonumber(ARGV[a + 1])
  if max and max > 0 then
    local due, suffix = prefix .. 'due:' .. target, '|' .. target
    local jobs = redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, max)
    bulk('ZREM', due, jobs)
    for _, job in ipairs(jobs) do
      local ev, f = prefix .. 'ev:' .. string.sub(job, 1, -#suffix - 1), nil
      if string.sub(job, -#suffix) == suffix then
        f = redis.call('HMGET', ev, 'e', 'decision', 'since:' .. target, 'status:' .. target,
          'attempts:' .. target, 'state', 'id')
      end
      if not f or not (f[6] or f[1] or f[7]) or f[4] then
        out[#out + 1] = {0, job}
      else
        local n = (tonumber(f[5]) or 0) + 1
        redis.call('HSET', ev, 'attempts:' .. target, n, 'lease:' .. target, token)
        leased[#leased + 1] = expiry
        leased[#leased + 1] = job
        local parts = f[1]
        -- An event stored before the packed layout: one field per part (event_record.h).
        if not parts then
          parts = redis.call('HMGET', ev, 'received_at', 'type', 'route', 'provider', 'verified', 'data', 'idem',
            'raw_method', 'raw_path', 'raw_query', 'raw_content_type', 'raw_body')
        end
        out[#out + 1] = {1, job, n, parts, f[2], f[3]}
      end
    end
  end
end
bulk('ZADD', KEYS[1], leased)
return out
