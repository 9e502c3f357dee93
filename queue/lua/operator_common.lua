-- Every script gets KEYS leased, dead, events, targets and ARGV[1] = "{prefix}:". Keys of one event or
-- target are built from the prefix, as JobQueue's scripts do: they carry the same hash tag.
local P, LEASED, DEAD, EVENTS, TARGETS = ARGV[1], KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local function split(list)
  local out = {}
  for t in string.gmatch(list or '', '[^,]+') do out[#out + 1] = t end
  return out
end
local PARTS = {'received_at', 'type', 'route', 'provider', 'verified', 'data', 'idem', 'raw_method', 'raw_path',
  'raw_query', 'raw_content_type', 'raw_body'}
-- An event's stored parts by name, whichever layout holds them (event_record.h), copied up to part number
-- `upto` (every part when nil). {damaged = true} when the hash holds neither layout's parts or its packed
-- field does not decode exactly as event_record.cpp decodes it (every length is checked, even past `upto`).
local function parts(ev, upto)
  local f = redis.call('HMGET', ev, 'e', 'id')
  local out = {}
  if f[1] then
    local s, pos, last = f[1], 1, upto or #PARTS
    for i = 1, #PARTS do
      local digits = string.match(s, '^%d+', pos)
      if not digits or #digits > 20 or (#digits > 1 and string.byte(digits, 1) == 48)
          or string.byte(s, pos + #digits) ~= 58 then
        return {damaged = true}
      end
      local from = pos + #digits + 1
      pos = from + tonumber(digits)
      if pos > #s + 1 then return {damaged = true} end
      if i <= last then out[PARTS[i]] = string.sub(s, from, pos - 1) end
    end
    if pos ~= #s + 1 then return {damaged = true} end
    return out
  end
  if not f[2] then return {damaged = true} end
  local old = redis.call('HMGET', ev, unpack(PARTS, 1, upto or #PARTS))
  for i = 1, #old do out[PARTS[i]] = old[i] or nil end
  return out
end
local function routeOf(ev)
  return parts(ev, 3).route
end
local function targetInfo(ev, id, t)
  local job = id .. '|' .. t
  local f = redis.call('HMGET', ev, 'status:' .. t, 'attempts:' .. t, 'reason:' .. t, 'since:' .. t)
  return {t, f[1] or '', f[2] or '0', f[3] or '', f[4] or '',
    redis.call('ZSCORE', P .. 'due:' .. t, job) or '', redis.call('ZSCORE', LEASED, job) or '',
    redis.call('ZSCORE', DEAD, job) or ''}
end
local function summary(id, p)
  local ev = P .. 'ev:' .. id
  local f = redis.call('HMGET', ev, 'state', 'targets', 'ix')
  if not f[1] then return nil end
  p = p or parts(ev, 5)
  local ts = {}
  for _, t in ipairs(split(f[2])) do ts[#ts + 1] = targetInfo(ev, id, t) end
  return {id, f[1], p.route or '', p.provider or '', p.type or '', p.received_at or '0', p.verified or '0',
    redis.call('LINDEX', P .. 'attempts:' .. id, -1) or '', ts, f[3] or ''}
end
local function recompute(ev)
  local any, dead, all, tried = false, false, true, false
  for _, t in ipairs(split(redis.call('HGET', ev, 'targets'))) do
    any = true
    local s = redis.call('HGET', ev, 'status:' .. t)
    if s == 'dead' then dead = true end
    if s ~= 'delivered' then all = false end
    if not s and (tonumber(redis.call('HGET', ev, 'attempts:' .. t) or '0') or 0) > 0 then tried = true end
  end
  local state = 'pending'
  if not any then state = 'stored' elseif dead then state = 'dead' elseif all then state = 'delivered'
  elseif tried then state = 'retrying' end
  redis.call('HSET', ev, 'state', state)
  return state
end
local function requeue(ev, id, t, now)
  redis.call('HDEL', ev, 'status:' .. t, 'reason:' .. t)
  redis.call('HSET', ev, 'attempts:' .. t, 0, 'since:' .. t, now)
  redis.call('ZREM', DEAD, id .. '|' .. t)
  redis.call('ZADD', P .. 'due:' .. t, now, id .. '|' .. t)
  redis.call('SADD', TARGETS, t)
  -- Being delivered again, it is no longer complete: its next completion indexes it anew.
  redis.call('ZREM', EVENTS .. ':done', id)
end
