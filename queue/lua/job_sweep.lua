-- Event hash keys are built from ARGV[1] ("{prefix}:"), as the claim script does: same hash tag.
-- KEYS: leased, dead, events, targets.  ARGV: key prefix, now, max, window start, cursor score, cursor skip,
--       then the configured target names.
-- Returns {expired, scanned, repaired, next cursor score, next cursor skip, wrapped, depth...}.
-- The repair walks {p}:events by receipt time; a (score, skip) cursor resumes exactly, even inside a run
-- of events received in the same millisecond.
local prefix, now, max = ARGV[1], ARGV[2], tonumber(ARGV[3])
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now, 'LIMIT', 0, max)
for _, job in ipairs(expired) do
  redis.call('ZREM', KEYS[1], job)
  local bar = string.find(job, '|', 1, true)
  if bar then
    local target = string.sub(job, bar + 1)
    redis.call('ZADD', prefix .. 'due:' .. target, now, job)
    redis.call('SADD', KEYS[4], target)
  end
end
local from, skip = ARGV[5], tonumber(ARGV[6])
if from == '' or tonumber(from) < tonumber(ARGV[4]) then from, skip = ARGV[4], 0 end
local evs = redis.call('ZRANGEBYSCORE', KEYS[3], from, '+inf', 'WITHSCORES', 'LIMIT', skip, max)
local last, last_skip, repaired = from, skip, 0
for i = 1, #evs, 2 do
  local id, score = evs[i], evs[i + 1]
  if score == last then last_skip = last_skip + 1 else last, last_skip = score, 1 end
  local ev = prefix .. 'ev:' .. id
  local state = redis.call('HGET', ev, 'state')
  if state and state ~= 'delivered' and state ~= 'stored' then
    for t in string.gmatch(redis.call('HGET', ev, 'targets') or '', '[^,]+') do
      local job = id .. '|' .. t
      if not redis.call('HGET', ev, 'status:' .. t) and not redis.call('ZSCORE', prefix .. 'due:' .. t, job)
          and not redis.call('ZSCORE', KEYS[1], job) and not redis.call('ZSCORE', KEYS[2], job) then
        redis.call('ZADD', prefix .. 'due:' .. t, now, job)
        redis.call('SADD', KEYS[4], t)
        repaired = repaired + 1
      end
    end
  end
end
local wrapped = 0
if #evs < 2 * max then last, last_skip, wrapped = '', 0, 1 end
-- The configured targets: the store adds a target to the set once per connection, so a set flushed under
-- steady load would otherwise stay short until the flush is noticed.
if #ARGV > 6 then redis.call('SADD', KEYS[4], unpack(ARGV, 7)) end
local d = depth(prefix, KEYS[1], KEYS[2], KEYS[4])
return {#expired, #evs / 2, repaired, last, last_skip, wrapped, d[1], d[2], d[3]}
