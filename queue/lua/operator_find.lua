-- ARGV: prefix, key, route, limit, entries to scan.
-- Returns {{summary}..., more}: the event whose id is the key, then the events whose listing holds the key
-- ({p}:find), newest first (ids are UUIDv7, so their order is the receipt order); more = 1 when more than
-- `limit` matched within the entries scanned.
local key, route, limit, scan = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local out, seen = {}, {}
local function add(id)
  if seen[id] then return end
  seen[id] = true
  local ev = P .. 'ev:' .. id
  local p = parts(ev, 5)
  if route ~= '' and p.route ~= route then return end
  local row = summary(id, p)
  if row then out[#out + 1] = row end
end
if redis.call('EXISTS', P .. 'ev:' .. key) == 1 then add(key) end
-- Members are "<key>\n<id>": every member of this key lies between "<key>\n" and "<key>\v".
local members = redis.call('ZREVRANGEBYLEX', P .. 'find', '(' .. key .. '\v', '[' .. key .. '\n', 'LIMIT', 0, scan)
for _, m in ipairs(members) do
  if #out > limit then break end
  add(string.sub(m, #key + 2))
end
local more = 0
if #out > limit then
  more = 1
  out[#out] = nil
end
return {out, more}
