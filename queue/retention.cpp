#include "queue/retention.h"

#include <charconv>
#include <memory>
#include <utility>
#include <vector>

#include "queue/script_reply.h"

namespace payhook::queue {
namespace {

using lua::element;
using lua::integer;
using lua::number;
using lua::text;

// KEYS: events:done, events, leased, dead, events:done:scan.  ARGV: key prefix, cutoff, max.
// Returns {removed, dropped, batch full, indexed, walk complete}.
// Keys of one event or target are built from the prefix, as JobQueue's scripts do: same hash tag.
constexpr std::string_view kSweepScript = R"lua(
local P, DONE, EVENTS, LEASED, DEAD, SCAN = ARGV[1], KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local cutoff, max = ARGV[2], tonumber(ARGV[3])
-- The targets of a complete event: delivered (or without targets) and no job waiting or in flight, which
-- a delivered event cannot have unless an operator is about to change it; nil otherwise.
local function complete(ev, id)
  local f = redis.call('HMGET', ev, 'state', 'targets')
  if f[1] ~= 'delivered' and f[1] ~= 'stored' then return nil end
  local ts = {}
  for t in string.gmatch(f[2] or '', '[^,]+') do
    local job = id .. '|' .. t
    if redis.call('ZSCORE', P .. 'due:' .. t, job) or redis.call('ZSCORE', LEASED, job) then return nil end
    ts[#ts + 1] = t
  end
  return ts
end
local ids = redis.call('ZRANGEBYSCORE', DONE, '-inf', cutoff, 'LIMIT', 0, max)
local removed, dropped = 0, 0
for _, id in ipairs(ids) do
  local ev = P .. 'ev:' .. id
  local ts = complete(ev, id)
  redis.call('ZREM', DONE, id)
  if ts then
    for _, t in ipairs(ts) do redis.call('ZREM', DEAD, id .. '|' .. t) end
    redis.call('DEL', ev, P .. 'attempts:' .. id)
    redis.call('ZREM', EVENTS, id)
    removed = removed + 1
  else
    -- Delivered again (replay, retry): indexed anew when it completes. Gone (purged): nothing to keep.
    if redis.call('EXISTS', ev) == 0 then
      redis.call('DEL', P .. 'attempts:' .. id)
      redis.call('ZREM', EVENTS, id)
    end
    dropped = dropped + 1
  end
end
local indexed, walked = 0, 1
local pos = redis.call('GET', SCAN)
if pos ~= 'complete' then
  walked = 0
  local from, skip = '-inf', 0
  local s, k = string.match(pos or '', '^(%-?%d+) (%d+)$')
  if s then from, skip = s, tonumber(k) end
  local evs = redis.call('ZRANGEBYSCORE', EVENTS, from, '+inf', 'WITHSCORES', 'LIMIT', skip, max)
  local last, last_skip = from, skip
  for i = 1, #evs, 2 do
    local id, score = evs[i], evs[i + 1]
    if score == last then last_skip = last_skip + 1 else last, last_skip = score, 1 end
    if not redis.call('ZSCORE', DONE, id) and complete(P .. 'ev:' .. id, id) then
      local at = string.match(redis.call('LINDEX', P .. 'attempts:' .. id, -1) or '', '"at":(%d+)')
      redis.call('ZADD', DONE, at or score, id)
      indexed = indexed + 1
    end
  end
  if #evs < 2 * max then
    redis.call('SET', SCAN, 'complete')
    walked = 1
  else
    redis.call('SET', SCAN, last .. ' ' .. last_skip)
  end
end
local full = 0
if #ids >= max then full = 1 end
return {removed, dropped, full, indexed, walked}
)lua";

// Declared as writing (a shebang without no-writes), so Redis checks, before running it, everything that
// would make it refuse a write; it writes nothing.
constexpr std::string_view kWritableScript = "#!lua\nreturn 1\n";

// KEYS: events, events:done. Runs on a replica and out of memory alike.
constexpr std::string_view kInfoScript = R"lua(#!lua flags=no-writes,allow-oom,allow-stale
local role = string.match(redis.call('INFO', 'replication'), 'role:(%a+)') or ''
return {redis.call('INFO', 'memory'), role, redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2])}
)lua";

int64_t toInt(std::string_view s) {
  int64_t v = -1;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size() ? v : -1;
}

// Why Redis refused the writing probe, or empty for an error that says nothing about writes (an ACL
// without EVAL, say): readiness does not guess.
std::string refusalOf(std::string_view error, const std::string& policy) {
  if (error.starts_with("OOM"))
    return "out of memory: used memory is above maxmemory and maxmemory-policy is " +
           (policy.empty() ? std::string("noeviction") : policy);
  if (error.starts_with("READONLY")) return "a read-only replica";
  if (error.starts_with("MISCONF")) return "it cannot save to disk (MISCONF)";
  return {};
}

}  // namespace

std::string_view infoField(std::string_view info, std::string_view name) {
  size_t at = 0;
  while (at < info.size()) {
    size_t end = info.find('\n', at);
    if (end == std::string_view::npos) end = info.size();
    std::string_view line = info.substr(at, end - at);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > name.size() && line.starts_with(name) && line[name.size()] == ':')
      return line.substr(name.size() + 1);
    at = end + 1;
  }
  return {};
}

RedisMemory parseRedisMemory(std::string_view info) {
  RedisMemory m;
  m.used = toInt(infoField(info, "used_memory"));
  m.maxmemory = toInt(infoField(info, "maxmemory"));
  m.policy = std::string(infoField(info, "maxmemory_policy"));
  return m;
}

Retention::Retention(RedisStore& store, std::string prefix)
    : store_(store),
      key_prefix_("{" + prefix + "}:"),
      done_key_(key_prefix_ + "events:done"),
      events_key_(key_prefix_ + "events"),
      leased_key_(key_prefix_ + "leased"),
      dead_key_(key_prefix_ + "dead"),
      scan_key_(key_prefix_ + "events:done:scan"),
      sweep_script_(std::string(kSweepScript)),
      writable_script_(std::string(kWritableScript)),
      info_script_(std::string(kInfoScript)) {}

void Retention::sweep(int64_t cutoff_ms, size_t max, std::function<void(Result<RetentionReport>)> cb) {
  if (max == 0) max = 1;
  store_.runScript(sweep_script_, {done_key_, events_key_, leased_key_, dead_key_, scan_key_},
                   {key_prefix_, number(cutoff_ms), number(static_cast<int64_t>(max))},
                   [cb = std::move(cb)](ScriptReply r) {
                     RetentionReport rep;
                     int64_t full = 0, walked = 0;
                     if (!r.ok() || !integer(element(r.value, 0), rep.removed) ||
                         !integer(element(r.value, 1), rep.dropped) || !integer(element(r.value, 2), full) ||
                         !integer(element(r.value, 3), rep.indexed) ||
                         !integer(element(r.value, 4), walked)) {
                       cb(lua::scriptError("retention sweep", r));
                       return;
                     }
                     rep.more = full != 0;
                     rep.scan_done = walked != 0;
                     cb(rep);
                   });
}

void Retention::probe(std::function<void(Result<RedisHealth>)> cb) {
  // One after the other, so the second carries the first's verdict whatever order NOSCRIPT retries take.
  // Copies, not `this`: the store outlives the Retention, not necessarily the other way round.
  store_.runScript(
      writable_script_, {}, {},
      [store = &store_, script = info_script_, keys = std::vector<std::string>{events_key_, done_key_},
       cb = std::move(cb)](ScriptReply w) mutable {
        if (!w.ok() && w.outcome != ScriptOutcome::kError) {
          cb(lua::scriptError("redis probe", w));
          return;
        }
        std::string refused = w.ok() ? std::string() : std::move(w.error);
        store->runScript(script, std::move(keys), {},
                         [refused = std::move(refused), cb = std::move(cb)](ScriptReply r) {
                           RedisHealth h;
                           const std::string info = text(element(r.value, 0));
                           if (!r.ok() || info.empty() || !integer(element(r.value, 2), h.events) ||
                               !integer(element(r.value, 3), h.completed)) {
                             cb(lua::scriptError("redis probe", r));
                             return;
                           }
                           h.memory = parseRedisMemory(info);
                           h.role = text(element(r.value, 1));
                           if (!refused.empty())
                             h.writes_refused = refusalOf(refused, h.memory.policy);
                           else if (h.role == "slave")
                             h.writes_refused = "a replica: what it stores is lost at its next resync";
                           cb(std::move(h));
                         });
      });
}

}  // namespace payhook::queue
