#include "queue/operator.h"

#include "queue/event_record.h"
#include "queue/retention.h"
#include "queue/script_reply.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <memory>
#include <utility>

namespace payhook::queue {
namespace {

using lua::element;
using lua::integer;
using lua::isArray;
using lua::number;
using lua::text;

// Every script gets KEYS leased, dead, events, targets and ARGV[1] = "{prefix}:". Keys of one event or
// target are built from the prefix, as JobQueue's scripts do: they carry the same hash tag.
constexpr std::string_view kCommon = R"lua(
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
  local f = redis.call('HMGET', ev, 'state', 'targets')
  if not f[1] then return nil end
  p = p or parts(ev, 5)
  local ts = {}
  for _, t in ipairs(split(f[2])) do ts[#ts + 1] = targetInfo(ev, id, t) end
  return {id, f[1], p.route or '', p.provider or '', p.type or '', p.received_at or '0', p.verified or '0',
    redis.call('LINDEX', P .. 'attempts:' .. id, -1) or '', ts}
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
)lua";

// ARGV: prefix, now, dead jobs to count.
// Returns {events, leased, leases expired, dead, oldest dead, dead counted, {{target, due, overdue, oldest
// due}...}, {target, dead, ...}, {route, dead, ...}, complete events, INFO memory}.
constexpr std::string_view kStatsScript = R"lua(
local now, scan = ARGV[2], tonumber(ARGV[3])
local per = {}
for _, t in ipairs(redis.call('SMEMBERS', TARGETS)) do
  local due = P .. 'due:' .. t
  local first = redis.call('ZRANGE', due, 0, 0, 'WITHSCORES')
  per[#per + 1] = {t, redis.call('ZCARD', due), redis.call('ZCOUNT', due, '-inf', now), first[2] or ''}
end
local by_target, by_route, counted = {}, {}, 0
for _, job in ipairs(redis.call('ZRANGE', DEAD, 0, scan - 1)) do
  counted = counted + 1
  local bar = string.find(job, '|', 1, true)
  if bar then
    local t = string.sub(job, bar + 1)
    by_target[t] = (by_target[t] or 0) + 1
    local r = routeOf(P .. 'ev:' .. string.sub(job, 1, bar - 1)) or ''
    by_route[r] = (by_route[r] or 0) + 1
  end
end
local bt, br = {}, {}
for k, v in pairs(by_target) do bt[#bt + 1] = k; bt[#bt + 1] = v end
for k, v in pairs(by_route) do br[#br + 1] = k; br[#br + 1] = v end
local oldest = redis.call('ZRANGE', DEAD, 0, 0, 'WITHSCORES')
return {redis.call('ZCARD', EVENTS), redis.call('ZCARD', LEASED), redis.call('ZCOUNT', LEASED, '-inf', '(' .. now),
  redis.call('ZCARD', DEAD), oldest[2] or '', counted, per, bt, br, redis.call('ZCARD', EVENTS .. ':done'),
  redis.call('INFO', 'memory')}
)lua";

// ARGV: prefix, mode (events|dead), state, route, max score, min score, skip, entries to scan, limit.
// Walks down from (max, skip). Returns {{summary[, dead target, dead score]}..., last score, skip, done,
// scanned}.
constexpr std::string_view kListScript = R"lua(
local mode, state, route = ARGV[2], ARGV[3], ARGV[4]
local max, min, skip, scan, limit = ARGV[5], ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local key = EVENTS
if mode == 'dead' then key = DEAD end
local items = redis.call('ZREVRANGEBYSCORE', key, max, min, 'WITHSCORES', 'LIMIT', skip, scan)
local out, last, last_skip, seen = {}, max, skip, 0
for i = 1, #items, 2 do
  local member, score = items[i], items[i + 1]
  if score == last then last_skip = last_skip + 1 else last, last_skip = score, 1 end
  seen = seen + 1
  local id, target = member, ''
  if mode == 'dead' then
    local bar = string.find(member, '|', 1, true)
    if bar then id, target = string.sub(member, 1, bar - 1), string.sub(member, bar + 1) else id = nil end
  end
  if id then
    local ev = P .. 'ev:' .. id
    local s = redis.call('HGET', ev, 'state')
    local p = s and (mode == 'dead' or state == 'all' or s == state) and parts(ev, 5)
    if p and (route == '' or p.route == route) then
      local row = summary(id, p)
      if mode == 'dead' then row[10] = target; row[11] = score end
      out[#out + 1] = row
      if #out >= limit then break end
    end
  end
end
local done = 0
if seen == #items / 2 and #items < 2 * scan then done = 1 end
return {out, last, last_skip, done, seen}
)lua";

// ARGV: prefix, id.  Returns 0, or {HGETALL, attempt records, summary}.
constexpr std::string_view kShowScript = R"lua(
local id = ARGV[2]
local ev = P .. 'ev:' .. id
if redis.call('EXISTS', ev) == 0 then return 0 end
return {redis.call('HGETALL', ev), redis.call('LRANGE', P .. 'attempts:' .. id, 0, -1), summary(id)}
)lua";

// ARGV: prefix, now, ids...  Returns {{id, result (retried|nothing|not_found), {revived}, {hurried},
// state}...}.
constexpr std::string_view kRetryScript = R"lua(
local now = ARGV[2]
local out = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local ev = P .. 'ev:' .. id
  if redis.call('EXISTS', ev) == 0 then
    out[#out + 1] = {id, 'not_found', {}, {}, ''}
  else
    local revived, hurried = {}, {}
    for _, t in ipairs(split(redis.call('HGET', ev, 'targets'))) do
      local job = id .. '|' .. t
      local s = redis.call('HGET', ev, 'status:' .. t)
      if s == 'dead' then
        requeue(ev, id, t, now)
        revived[#revived + 1] = t
      elseif not s then
        local due = redis.call('ZSCORE', P .. 'due:' .. t, job)
        if due then
          if tonumber(due) > tonumber(now) then
            redis.call('ZADD', P .. 'due:' .. t, now, job)
            hurried[#hurried + 1] = t
          end
        elseif not redis.call('ZSCORE', LEASED, job) then
          requeue(ev, id, t, now)
          revived[#revived + 1] = t
        end
      end
    end
    local state = redis.call('HGET', ev, 'state') or ''
    local result = 'nothing'
    if #revived + #hurried > 0 then
      state, result = recompute(ev), 'retried'
    end
    out[#out + 1] = {id, result, revived, hurried, state}
  end
end
return out
)lua";

// ARGV: prefix, now, id.  Returns {result (replayed|busy|nothing|not_found), {targets}, state}.
constexpr std::string_view kReplayScript = R"lua(
local now, id = ARGV[2], ARGV[3]
local ev = P .. 'ev:' .. id
if redis.call('EXISTS', ev) == 0 then return {'not_found', {}, ''} end
local ts = split(redis.call('HGET', ev, 'targets'))
for _, t in ipairs(ts) do
  local job = id .. '|' .. t
  if redis.call('ZSCORE', P .. 'due:' .. t, job) or redis.call('ZSCORE', LEASED, job) then
    return {'busy', {}, redis.call('HGET', ev, 'state') or ''}
  end
end
local again = {}
for _, t in ipairs(ts) do
  if string.sub(t, 1, 1) ~= '@' and redis.call('HGET', ev, 'status:' .. t) == 'delivered' then
    requeue(ev, id, t, now)
    again[#again + 1] = t
  end
end
if #again == 0 then return {'nothing', {}, redis.call('HGET', ev, 'state') or ''} end
return {'replayed', again, recompute(ev)}
)lua";

// ARGV: prefix, mode (retry|purge), now, route, max score, cursor score, cursor kept, batch.
// Walks {p}:dead up from the cursor; `kept` counts the entries at the cursor's score that stay in the set
// (other routes, skipped events), since the ones acted on leave it. Returns {done, skipped, score, kept,
// finished}.
constexpr std::string_view kWalkDeadScript = R"lua(
local mode, now, route, max = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local last, kept, batch = ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8])
if last == '' then last = '-inf' end
local items = redis.call('ZRANGEBYSCORE', DEAD, last, max, 'WITHSCORES', 'LIMIT', kept, batch)
local done, skipped = 0, 0
for i = 1, #items, 2 do
  local job, score = items[i], items[i + 1]
  if score ~= last then last, kept = score, 0 end
  local bar = string.find(job, '|', 1, true)
  local id = bar and string.sub(job, 1, bar - 1)
  local ev = id and (P .. 'ev:' .. id)
  if not ev or redis.call('EXISTS', ev) == 0 then
    redis.call('ZREM', DEAD, job)
  elseif route ~= '' and routeOf(ev) ~= route then
    kept = kept + 1
  elseif mode == 'retry' then
    requeue(ev, id, string.sub(job, bar + 1), now)
    recompute(ev)
    done = done + 1
  else
    local ts = split(redis.call('HGET', ev, 'targets'))
    local busy = false
    for _, t in ipairs(ts) do
      local j = id .. '|' .. t
      if redis.call('ZSCORE', P .. 'due:' .. t, j) or redis.call('ZSCORE', LEASED, j) then busy = true end
    end
    if busy then
      kept = kept + 1
      skipped = skipped + 1
    else
      for _, t in ipairs(ts) do redis.call('ZREM', DEAD, id .. '|' .. t) end
      redis.call('ZREM', DEAD, job)
      redis.call('DEL', ev, P .. 'attempts:' .. id)
      redis.call('ZREM', EVENTS, id)
      redis.call('ZREM', EVENTS .. ':done', id)
      done = done + 1
    end
  end
end
local finished = 0
if #items < 2 * batch then finished = 1 end
return {done, skipped, last, kept, finished}
)lua";

// A score or count that may be absent (""): 0 then.
int64_t integerOr0(const ScriptValue* v) {
  int64_t out = 0;
  return integer(v, out) ? out : 0;
}

std::vector<std::string> strings(const ScriptValue* v) {
  std::vector<std::string> out;
  if (!isArray(v)) return out;
  for (const auto& e : v->elements) out.push_back(text(&e));
  return out;
}

TargetState parseTarget(const ScriptValue& v) {
  TargetState t;
  t.name = text(element(v, 0));
  const std::string status = text(element(v, 1));
  t.attempts = integerOr0(element(v, 2));
  t.reason = text(element(v, 3));
  t.since_ms = integerOr0(element(v, 4));
  const std::string due = text(element(v, 5)), leased = text(element(v, 6)), dead = text(element(v, 7));
  t.due_ms = integerOr0(element(v, 5));
  t.lease_until_ms = integerOr0(element(v, 6));
  t.dead_at_ms = integerOr0(element(v, 7));
  if (!status.empty())
    t.status = status;
  else if (!leased.empty())
    t.status = "leased";
  else if (!due.empty())
    t.status = "due";
  else
    t.status = "missing";
  return t;
}

bool parseSummary(const ScriptValue& v, EventSummary& s) {
  if (v.type != ScriptValue::Type::kArray || v.elements.size() < 9) return false;
  s.id = text(element(v, 0));
  s.state = text(element(v, 1));
  s.route = text(element(v, 2));
  s.provider = text(element(v, 3));
  s.type = text(element(v, 4));
  s.received_at_ms = integerOr0(element(v, 5));
  s.verified = text(element(v, 6)) == "1";
  s.last_attempt = text(element(v, 7));
  const ScriptValue* ts = element(v, 8);
  if (isArray(ts))
    for (const auto& t : ts->elements) s.targets.push_back(parseTarget(t));
  if (v.elements.size() >= 11) {
    s.dead_target = text(element(v, 9));
    s.dead_at_ms = integerOr0(element(v, 10));
  }
  return true;
}

std::vector<std::string> operatorKeys(const std::string& leased, const std::string& dead,
                                      const std::string& events, const std::string& targets) {
  return {leased, dead, events, targets};
}

Script script(std::string_view body) {
  return Script(std::string(kCommon) + std::string(body));
}

}  // namespace

std::string encodeCursor(const ListCursor& c) {
  return number(c.score) + "." + number(c.skip);
}

std::optional<ListCursor> decodeCursor(std::string_view text) {
  size_t dot = text.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 >= text.size()) return std::nullopt;
  ListCursor c;
  auto parse = [](std::string_view s, int64_t& out) {
    if (s.empty() || s.size() > 19) return false;
    for (char ch : s)
      if (ch < '0' || ch > '9') return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
  };
  if (!parse(text.substr(0, dot), c.score) || !parse(text.substr(dot + 1), c.skip)) return std::nullopt;
  return c;
}

bool isListState(std::string_view s) {
  return s == "all" || s == "pending" || s == "retrying" || s == "delivered" || s == "dead" || s == "stored";
}

bool isValidName(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == ':' || c == '@' || c == '-';
    if (!ok) return false;
  }
  return true;
}

const char* retryOutcomeName(RetryResult::Outcome o) {
  switch (o) {
    case RetryResult::Outcome::kRetried:
      return "retried";
    case RetryResult::Outcome::kNotFound:
      return "not_found";
    case RetryResult::Outcome::kNothingToDo:
      return "nothing_to_do";
  }
  return "not_found";
}

const char* replayOutcomeName(ReplayResult::Outcome o) {
  switch (o) {
    case ReplayResult::Outcome::kReplayed:
      return "replayed";
    case ReplayResult::Outcome::kNotFound:
      return "not_found";
    case ReplayResult::Outcome::kBusy:
      return "busy";
    case ReplayResult::Outcome::kNothingToDo:
      return "nothing_to_do";
  }
  return "not_found";
}

Operator::Operator(RedisStore& store, OperatorOptions options)
    : store_(store),
      key_prefix_("{" + options.prefix + "}:"),
      leased_key_(key_prefix_ + "leased"),
      dead_key_(key_prefix_ + "dead"),
      events_key_(key_prefix_ + "events"),
      targets_key_(key_prefix_ + "targets"),
      stats_script_(script(kStatsScript)),
      list_script_(script(kListScript)),
      show_script_(script(kShowScript)),
      retry_script_(script(kRetryScript)),
      replay_script_(script(kReplayScript)),
      walk_dead_script_(script(kWalkDeadScript)) {}

void Operator::stats(int64_t now_ms, std::function<void(Result<QueueStats>)> cb) {
  store_.runScript(stats_script_, operatorKeys(leased_key_, dead_key_, events_key_, targets_key_),
                   {key_prefix_, number(now_ms), number(static_cast<int64_t>(kStatsDeadScan))},
                   [cb = std::move(cb), now_ms](ScriptReply r) {
                     QueueStats s;
                     s.now_ms = now_ms;
                     const ScriptValue& v = r.value;
                     if (!r.ok() || v.elements.size() != 11 || !integer(element(v, 0), s.events) ||
                         !integer(element(v, 1), s.leased) || !integer(element(v, 2), s.leased_expired) ||
                         !integer(element(v, 3), s.dead) || !integer(element(v, 5), s.dead_counted) ||
                         !isArray(element(v, 6)) || !isArray(element(v, 7)) || !isArray(element(v, 8))) {
                       cb(lua::scriptError("stats", r));
                       return;
                     }
                     s.oldest_dead_ms = integerOr0(element(v, 4));
                     s.completed = integerOr0(element(v, 9));
                     s.memory = parseRedisMemory(text(element(v, 10)));
                     std::map<std::string, TargetStats> targets;
                     for (const auto& e : element(v, 6)->elements) {
                       TargetStats t;
                       t.name = text(element(e, 0));
                       t.due = integerOr0(element(e, 1));
                       t.overdue = integerOr0(element(e, 2));
                       t.oldest_due_ms = integerOr0(element(e, 3));
                       s.due += t.due;
                       s.overdue += t.overdue;
                       targets[t.name] = t;
                     }
                     const auto& bt = element(v, 7)->elements;
                     for (size_t i = 0; i + 1 < bt.size(); i += 2) {
                       TargetStats& t = targets[text(&bt[i])];
                       t.name = text(&bt[i]);
                       t.dead = integerOr0(&bt[i + 1]);
                     }
                     for (auto& [name, t] : targets) s.targets.push_back(std::move(t));
                     std::map<std::string, int64_t> routes;
                     const auto& br = element(v, 8)->elements;
                     for (size_t i = 0; i + 1 < br.size(); i += 2)
                       routes[text(&br[i])] = integerOr0(&br[i + 1]);
                     s.dead_by_route.assign(routes.begin(), routes.end());
                     cb(std::move(s));
                   });
}

namespace {

// A listing that takes several scripts: its state lives here, shared by the callbacks, so the chain owns
// itself and the Operator may go away meanwhile.
struct ListWalk {
  RedisStore* store = nullptr;
  Script script{std::string()};
  std::vector<std::string> keys;
  std::string prefix;
  ListQuery query;
  std::string max;  // where the next script starts: the cursor's score, the upper bound or "+inf"
  int64_t skip = 0;
  size_t scripts = 0;
  ListPage page;
  std::function<void(Result<ListPage>)> cb;
};

void listStep(const std::shared_ptr<ListWalk>& walk) {
  const ListQuery& q = walk->query;
  const size_t want = q.limit - walk->page.events.size();
  walk->store->runScript(
      walk->script, walk->keys,
      {walk->prefix, q.state == "dead" ? "dead" : "events", q.state, q.route, walk->max,
       q.since_ms > 0 ? number(q.since_ms) : "-inf", number(walk->skip),
       number(static_cast<int64_t>(kListScanMax)), number(static_cast<int64_t>(want))},
      [walk](ScriptReply r) {
        const ScriptValue& v = r.value;
        int64_t skip = 0, done = 0, seen = 0, score = 0;
        const ScriptValue* rows = element(v, 0);
        if (!r.ok() || !isArray(rows) || !integer(element(v, 2), skip) || !integer(element(v, 3), done) ||
            !integer(element(v, 4), seen)) {
          walk->cb(lua::scriptError("list", r));
          return;
        }
        for (const auto& row : rows->elements) {
          EventSummary s;
          if (parseSummary(row, s)) walk->page.events.push_back(std::move(s));
        }
        walk->page.scanned += static_cast<size_t>(seen);
        ++walk->scripts;
        // Not done means something was scanned, so the last score is a number; anything else ends the walk.
        if (!done && integer(element(v, 1), score)) {
          walk->max = text(element(v, 1));
          walk->skip = skip;
          walk->page.next_cursor = encodeCursor({score, skip});
        } else {
          done = 1;
          walk->page.next_cursor.clear();
        }
        if (done || walk->page.events.size() >= walk->query.limit || walk->scripts >= kListScriptsMax) {
          walk->cb(std::move(walk->page));
          return;
        }
        listStep(walk);
      });
}

struct DeadWalk {
  RedisStore* store = nullptr;
  Script script{std::string()};
  std::vector<std::string> keys;
  std::string prefix;
  std::string mode;  // retry or purge
  std::string now;
  std::string route;
  std::string max;
  std::string score;  // the cursor: "" before the first batch
  int64_t kept = 0;
  BulkReport report;
  std::function<void(Result<BulkReport>)> cb;
};

void deadStep(const std::shared_ptr<DeadWalk>& walk) {
  walk->store->runScript(walk->script, walk->keys,
                         {walk->prefix, walk->mode, walk->now, walk->route, walk->max, walk->score,
                          number(walk->kept), number(static_cast<int64_t>(kBulkBatch))},
                         [walk](ScriptReply r) {
                           const ScriptValue& v = r.value;
                           int64_t done = 0, skipped = 0, kept = 0, finished = 0;
                           if (!r.ok() || !integer(element(v, 0), done) || !integer(element(v, 1), skipped) ||
                               !integer(element(v, 3), kept) || !integer(element(v, 4), finished)) {
                             walk->cb(lua::scriptError(walk->mode == "retry" ? "retry dead" : "purge", r));
                             return;
                           }
                           walk->report.done += done;
                           walk->report.skipped += skipped;
                           ++walk->report.batches;
                           std::string score = text(element(v, 2));
                           if (finished || score.empty() || score == "-inf") {
                             walk->cb(walk->report);
                             return;
                           }
                           walk->score = std::move(score);
                           walk->kept = kept;
                           deadStep(walk);
                         });
}

}  // namespace

void Operator::list(const ListQuery& query, std::function<void(Result<ListPage>)> cb) {
  if (!isListState(query.state) || query.limit < 1 || query.limit > kListLimitMax ||
      (!query.route.empty() && !isValidName(query.route)) || query.since_ms < 0 || query.until_ms < 0) {
    cb(Error{"invalid list query"});
    return;
  }
  auto walk = std::make_shared<ListWalk>();
  walk->store = &store_;
  walk->script = list_script_;
  walk->keys = operatorKeys(leased_key_, dead_key_, events_key_, targets_key_);
  walk->prefix = key_prefix_;
  walk->query = query;
  walk->cb = std::move(cb);
  walk->max = query.until_ms > 0 ? number(query.until_ms) : "+inf";
  if (!query.cursor.empty()) {
    auto c = decodeCursor(query.cursor);
    if (!c) {
      walk->cb(Error{"invalid cursor"});
      return;
    }
    walk->max = number(c->score);
    walk->skip = c->skip;
  }
  listStep(walk);
}

void Operator::show(const std::string& id, std::function<void(Result<std::optional<EventDetail>>)> cb) {
  if (!isValidName(id)) {
    cb(std::optional<EventDetail>());  // no stored event has such an id
    return;
  }
  store_.runScript(
      show_script_, operatorKeys(leased_key_, dead_key_, events_key_, targets_key_), {key_prefix_, id},
      [cb = std::move(cb)](ScriptReply r) {
        if (!r.ok()) {
          cb(lua::scriptError("show", r));
          return;
        }
        if (r.value.type == ScriptValue::Type::kInteger) {
          cb(std::optional<EventDetail>());
          return;
        }
        const ScriptValue* hash = element(r.value, 0);
        const ScriptValue* attempts = element(r.value, 1);
        const ScriptValue* summary = element(r.value, 2);
        EventDetail d;
        if (!isArray(hash) || !isArray(attempts) || !summary || !parseSummary(*summary, d.summary)) {
          cb(lua::scriptError("show", {}));
          return;
        }
        std::map<std::string, std::string> f;
        for (size_t i = 0; i + 1 < hash->elements.size(); i += 2)
          f[text(&hash->elements[i])] = text(&hash->elements[i + 1]);
        if (auto packed = f.find(std::string(record::kPackedField)); packed != f.end()) {
          // Copied out first: the views point into the map's value, which the loop may overwrite.
          const std::string blob = packed->second;
          if (auto parts = record::unpack(blob)) {
            for (size_t i = 0; i < parts->size(); ++i) f[std::string(record::kParts[i])] = (*parts)[i];
          } else {
            d.damaged = true;
          }
        } else if (f.find("id") == f.end()) {
          d.damaged = true;  // neither layout's parts
        }
        d.idempotency_key = f["idem"];
        d.decision = f["decision"];
        d.data_json = f["data"];
        d.raw.method = f["raw_method"];
        d.raw.path = f["raw_path"];
        d.raw.query = f["raw_query"];
        d.raw.content_type = f["raw_content_type"];
        d.raw.body = f["raw_body"];
        d.attempts = strings(attempts);
        cb(std::optional<EventDetail>(std::move(d)));
      });
}

void Operator::retry(const std::vector<std::string>& ids, int64_t now_ms,
                     std::function<void(Result<std::vector<RetryResult>>)> cb) {
  if (ids.empty() || ids.size() > kRetryIdsMax) {
    cb(Error{"retry: give 1 to " + std::to_string(kRetryIdsMax) + " ids"});
    return;
  }
  // Ids that cannot name an event are answered not_found without reaching Redis; the rest go in one script.
  std::vector<std::string> args{key_prefix_, number(now_ms)};
  for (const auto& id : ids)
    if (isValidName(id)) args.push_back(id);
  store_.runScript(retry_script_, operatorKeys(leased_key_, dead_key_, events_key_, targets_key_),
                   std::move(args), [cb = std::move(cb), ids](ScriptReply r) {
                     if (!r.ok() || r.value.type != ScriptValue::Type::kArray) {
                       cb(lua::scriptError("retry", r));
                       return;
                     }
                     std::map<std::string, RetryResult> by_id;
                     for (const auto& e : r.value.elements) {
                       RetryResult res;
                       res.id = text(element(e, 0));
                       const std::string outcome = text(element(e, 1));
                       res.outcome = outcome == "retried"   ? RetryResult::Outcome::kRetried
                                     : outcome == "nothing" ? RetryResult::Outcome::kNothingToDo
                                                            : RetryResult::Outcome::kNotFound;
                       res.revived = strings(element(e, 2));
                       res.hurried = strings(element(e, 3));
                       res.state = text(element(e, 4));
                       by_id[res.id] = std::move(res);
                     }
                     std::vector<RetryResult> out;
                     for (const auto& id : ids) {
                       auto it = by_id.find(id);
                       if (it != by_id.end()) {
                         out.push_back(it->second);
                       } else {
                         RetryResult res;
                         res.id = id;
                         out.push_back(std::move(res));
                       }
                     }
                     cb(std::move(out));
                   });
}

void Operator::retryDead(const std::string& route, int64_t now_ms,
                         std::function<void(Result<BulkReport>)> cb) {
  walkDead("retry", route, now_ms, std::move(cb));
}

void Operator::purgeDead(const std::string& route, int64_t cutoff_ms,
                         std::function<void(Result<BulkReport>)> cb) {
  walkDead("purge", route, cutoff_ms, std::move(cb));
}

void Operator::walkDead(const char* mode, const std::string& route, int64_t until_ms,
                        std::function<void(Result<BulkReport>)> cb) {
  if (!route.empty() && !isValidName(route)) {
    cb(BulkReport{});
    return;
  }
  auto walk = std::make_shared<DeadWalk>();
  walk->store = &store_;
  walk->script = walk_dead_script_;
  walk->keys = operatorKeys(leased_key_, dead_key_, events_key_, targets_key_);
  walk->prefix = key_prefix_;
  walk->mode = mode;
  walk->now = number(until_ms);
  walk->route = route;
  walk->max = number(until_ms);
  walk->cb = std::move(cb);
  deadStep(walk);
}

void Operator::replay(const std::string& id, int64_t now_ms, std::function<void(Result<ReplayResult>)> cb) {
  store_.runScript(replay_script_, operatorKeys(leased_key_, dead_key_, events_key_, targets_key_),
                   {key_prefix_, number(now_ms), isValidName(id) ? id : std::string("-")},
                   [cb = std::move(cb), id](ScriptReply r) {
                     const std::string outcome = text(element(r.value, 0));
                     if (!r.ok() || outcome.empty()) {
                       cb(lua::scriptError("replay", r));
                       return;
                     }
                     ReplayResult res;
                     res.id = id;
                     res.outcome = outcome == "replayed"  ? ReplayResult::Outcome::kReplayed
                                   : outcome == "busy"    ? ReplayResult::Outcome::kBusy
                                   : outcome == "nothing" ? ReplayResult::Outcome::kNothingToDo
                                                          : ReplayResult::Outcome::kNotFound;
                     res.targets = strings(element(r.value, 1));
                     res.state = text(element(r.value, 2));
                     cb(std::move(res));
                   });
}

}  // namespace payhook::queue
