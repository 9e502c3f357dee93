-- settleExpectation(lines, id, at, ttl, confirming): what the event `id` (received or confirmed at `at`) does
-- to the expected order it speaks of (README "Expected payments"). `lines`: source ('c' callback, 'r'
-- reconciliation, 'p' a callback pending its confirmation by the provider's API), '1' final or '0', the
-- state ('-': none), the order's due set, the dead set of expectations, then the expectation hashes it may
-- be registered under. Returns the id of the event it repeats when it is held back, else nil.
-- The first event of each state, callback or reconciliation, is delivered; the other source's event of the
-- same state is held back. Callbacks never hold each other back (their own idempotency keys do that), so a
-- second partial refund still goes out. A final state closes the expectation in the step that stores the
-- event, or, for a 'p' callback, in the step that records its confirmation (`confirming`): a notification the
-- API refutes leaves the expectation open, to be asked about after its deadline.
local function settleExpectation(lines_text, id, at, ttl, confirming)
  local lines = {}
  for line in string.gmatch(lines_text, '[^\n]+') do lines[#lines + 1] = line end
  local source, final, order_state, due, dead = lines[1], lines[2] == '1', lines[3], lines[4], lines[5]
  local recon = source == 'r'
  local exp = nil
  for i = 6, #lines do
    if redis.call('EXISTS', lines[i]) == 1 then exp = lines[i] break end
  end
  if not exp or order_state == '-' then return nil end
  local seen = redis.call('HGET', exp, 'seen:' .. order_state)
  if seen and (recon or string.sub(seen, 1, 1) == 'r') then return string.sub(seen, 3) end
  if source == 'p' and not confirming then return nil end
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
    redis.call('EXPIRE', exp, ttl)
  end
  return nil
end
