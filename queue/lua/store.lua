-- KEYS: idem, event hash, due key prefix ("{p}:due"; a target's set is "{p}:due:<target>"), events zset,
--       the set of target names that have a due set, the find index; and, for storeUnlessNoted(), the note.
-- ARGV: ttl, id, received_at, the packed parts (event_record.h), one '0'/'1' per target (whether to add it
--       to the set of target names), the listing (event_record.h, "ix"), the expected order the event
--       speaks of (empty, or lines: source 'c' callback or 'r' reconciliation, '1' final or '0', the state,
--       the order's due set, the dead set of expectations, then the expectation hashes it may be registered
--       under), then the targets.
-- Returns {1, id} when stored, {0, first id} when the key was already taken, {2, note} when the note
-- exists (nothing written).
-- Each redis.call costs Redis a few microseconds, the larger part of an event's cost to it: one SET with
-- NX GET both claims the idempotency key and reads the first id, and a target is added to the set of names
-- once per connection (the store's target registration), not once per event.
if KEYS[7] then
  local note = redis.call('GET', KEYS[7])
  if note then return {2, note} end
end
local first = redis.call('SET', KEYS[1], ARGV[2], 'NX', 'GET', 'EX', ARGV[1])
if first then return {0, first} end
local id, at, register = ARGV[2], ARGV[3], ARGV[5]
local targets = {}
for i = 8, #ARGV do targets[#targets + 1] = ARGV[i] end
local ix = ARGV[6]
-- An expected order (README "Expected payments"): the first event of each state, callback or
-- reconciliation, is delivered; the other source's event of the same state is stored without targets.
-- Callbacks never hold each other back (their own idempotency keys do that), so a second partial refund
-- still goes out. A final state closes the expectation, here, in the step that stores the event.
local held_back = nil
if ARGV[7] ~= '' then
  local lines = {}
  for line in string.gmatch(ARGV[7], '[^\n]+') do lines[#lines + 1] = line end
  local recon, final, order_state, due, dead = lines[1] == 'r', lines[2] == '1', lines[3], lines[4], lines[5]
  local exp = nil
  for i = 6, #lines do
    if redis.call('EXISTS', lines[i]) == 1 then exp = lines[i] break end
  end
  if exp and order_state ~= '-' then
    local seen = redis.call('HGET', exp, 'seen:' .. order_state)
    if seen and (recon or string.sub(seen, 1, 1) == 'r') then
      held_back = string.sub(seen, 3)
      targets = {}
    else
      local f = redis.call('HMGET', exp, 'state', 'order')
      redis.call('HSET', exp, 'seen:' .. order_state, (recon and 'r:' or 'c:') .. id, 'status', order_state)
      -- A callback that comes after its order was given up still settles it: out of the dead set.
      if final and (f[1] == 'open' or f[1] == 'dead') then
        if f[1] == 'dead' then redis.call('ZREM', dead, redis.call('HGET', exp, 'route') .. '\n' .. f[2]) end
        redis.call('HSET', exp, 'state', 'closed', 'closed_by', recon and 'reconciliation' or 'callback',
          'event', id, 'closed_at', at)
        redis.call('HDEL', exp, 'lease')
        redis.call('ZREM', due, f[2])
        -- Kept as long as the idempotency keys, so a late callback still finds what it would repeat.
        redis.call('EXPIRE', exp, ARGV[1])
      end
    end
  end
end
redis.call('HSET', KEYS[2], 'e', ARGV[4], 'state', (#targets == 0) and 'stored' or 'pending',
  'targets', table.concat(targets, ','), 'ix', ix)
if held_back then redis.call('HSET', KEYS[2], 'same_as', held_back) end
-- The keys an operator finds the event by: one ZADD for all of them.
local members = {}
for _, k in ipairs(listingKeys(ix)) do
  members[#members + 1] = 0
  members[#members + 1] = k .. '\n' .. id
end
if #members > 0 then redis.call('ZADD', KEYS[6], unpack(members)) end
for i = 1, #targets do
  redis.call('ZADD', KEYS[3] .. ':' .. targets[i], at, id .. '|' .. targets[i])
  if string.byte(register, i) == 49 then redis.call('SADD', KEYS[5], targets[i]) end
end
redis.call('ZADD', KEYS[4], at, id)
-- Without targets an event is complete at once: it joins the retention index (queue/retention.h).
if #targets == 0 then redis.call('ZADD', KEYS[4] .. ':done', at, id) end
return {1, id}
