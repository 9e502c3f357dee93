-- ARGV: prefix, the walk's position key, the position the batch was read at ('' for the start), the next
-- position ('' when the walk is complete), then id and listing pairs.
-- Returns {indexed, moved}: moved = 1 when another walk stored a position meanwhile (nothing written).
-- An event deleted since it was read, or given a listing meanwhile, is left as it is.
local POS, read_at, next_pos = ARGV[2], ARGV[3], ARGV[4]
if (redis.call('GET', POS) or '') ~= read_at then return {0, 1} end
local indexed = 0
for i = 5, #ARGV - 1, 2 do
  local id, ix = ARGV[i], ARGV[i + 1]
  local ev = P .. 'ev:' .. id
  if redis.call('EXISTS', ev) == 1 and redis.call('HEXISTS', ev, 'ix') == 0 then
    redis.call('HSET', ev, 'ix', ix)
    local members = {}
    for _, k in ipairs(listingKeys(ix)) do
      members[#members + 1] = 0
      members[#members + 1] = k .. '\n' .. id
    end
    if #members > 0 then redis.call('ZADD', P .. 'find', unpack(members)) end
    indexed = indexed + 1
  end
end
if next_pos == '' then redis.call('DEL', POS) else redis.call('SET', POS, next_pos) end
return {indexed, 0}
