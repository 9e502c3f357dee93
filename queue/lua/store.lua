-- KEYS: idem, event hash, due key prefix ("{p}:due"; a target's set is "{p}:due:<target>"), events zset,
--       the set of target names that have a due set, the find index; and, for storeUnlessNoted(), the note.
-- ARGV: ttl, id, received_at, the packed parts (event_record.h), one '0'/'1' per target (whether to add it
--       to the set of target names), the listing (event_record.h, "ix"), the expected order the event
--       speaks of (empty, or the lines of queue/lua/expect_settle.lua), then the targets.
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
-- An expected order (README "Expected payments"): queue/lua/expect_settle.lua.
local held_back = nil
if ARGV[7] ~= '' then
  held_back = settleExpectation(ARGV[7], id, at, ARGV[1], false)
  if held_back then targets = {} end
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
