-- The keys of an event's listing ("ix", queue/event_record.h): its lines from the fifth on. Prepended to
-- every script that writes or deletes events, so the find index ({p}:find, members "<key>\n<id>") follows
-- the events it points at.
local function listingKeys(ix)
  local keys, line = {}, 0
  for k in string.gmatch(ix or '', '([^\n]*)\n?') do
    line = line + 1
    if line > 4 and k ~= '' then keys[#keys + 1] = k end
  end
  return keys
end
-- Takes an event's keys out of the find index; called before the event hash is deleted.
local function unindex(find, ev, id)
  local members = {}
  for _, k in ipairs(listingKeys(redis.call('HGET', ev, 'ix'))) do members[#members + 1] = k .. '\n' .. id end
  if #members > 0 then redis.call('ZREM', find, unpack(members)) end
end
