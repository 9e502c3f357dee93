-- Expected orders for operators: the dead ones (newest first), or those still open (soonest due first),
-- and the counts. Keys are built from ARGV[1], under the declared keys' hash tag.
-- KEYS: the set of routes with expectations, the dead set.
-- ARGV: key prefix, state (open|dead|all), route ('' for all), limit.
-- Returns {open count, dead count, {entry...}}, an entry being the hash's fields in the order of `fields`.
local prefix, want, only, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local fields = {'route', 'order', 'amount', 'deadline', 'created', 'state', 'polls', 'last_status', 'status',
  'error', 'reason', 'died_at', 'closed_by', 'event'}
local routes = redis.call('SMEMBERS', KEYS[1])
local open, entries = 0, {}
local function add(route, order)
  local f = redis.call('HMGET', prefix .. 'exp:' .. route .. ':' .. order, unpack(fields))
  for i = 1, #fields do f[i] = f[i] or '' end
  f[1], f[2] = route, order
  entries[#entries + 1] = f
end
for _, route in ipairs(routes) do
  if only == '' or only == route then
    local due = prefix .. 'expect:due:' .. route
    open = open + redis.call('ZCARD', due)
    if want ~= 'dead' and #entries < limit then
      for _, order in ipairs(redis.call('ZRANGE', due, 0, limit - #entries - 1)) do add(route, order) end
    end
  end
end
local dead = redis.call('ZCARD', KEYS[2])
if want ~= 'open' and #entries < limit then
  local from = 0
  while #entries < limit do
    local page = redis.call('ZREVRANGE', KEYS[2], from, from + 99)
    if #page == 0 then break end
    for _, m in ipairs(page) do
      local nl = string.find(m, '\n', 1, true)
      if nl then
        local route = string.sub(m, 1, nl - 1)
        if (only == '' or only == route) and #entries < limit then add(route, string.sub(m, nl + 1)) end
      end
    end
    from = from + 100
  end
end
return {open, dead, entries}
