#include "queue/job_queue.h"

#include "queue/event_record.h"
#include "queue/script_reply.h"

#include <charconv>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <string_view>
#include <utility>

namespace payhook::queue {

const char* leaseOutcomeName(LeaseOutcome o) {
  switch (o) {
    case LeaseOutcome::kApplied:
      return "applied";
    case LeaseOutcome::kLeaseLost:
      return "lease_lost";
    case LeaseOutcome::kEventGone:
      return "event_gone";
  }
  return "lease_lost";
}

namespace {

using lua::element;
using lua::integer;
using lua::isArray;
using lua::number;
using lua::text;

// The event hash key of a job depends on the job, so the claim and sweep scripts build it from ARGV[1]
// ("{prefix}:"); it carries the same hash tag as the declared keys, so the script stays on one slot.

// Each redis.call costs Redis a few microseconds, more than anything else a delivery costs it, so both
// scripts below read an event's fields in one HMGET and write them in one HSET, and the claim moves its jobs
// between sorted sets in bulk. An event hash holds "state" and its packed parts "e" (or "id", in the older
// layout, event_record.h) from the store on: a hash with none of them is a deleted event. The completion
// tests "state" first, so it never copies the packed parts out.

// KEYS: leased.  ARGV: key prefix, now, lease expiry, token, then (target, max) pairs.
// Returns one entry per job taken off a due set: {0, job} dropped, or {1, job, attempt, parts, decision,
// since}, parts being the packed field or, for an event of the older layout, its twelve fields.
constexpr std::string_view kClaimScript = R"lua(
local prefix, now, expiry, token = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
-- unpack() is bounded by Lua's C stack: bulk commands go out in chunks.
local function bulk(cmd, key, args)
  for i = 1, #args, 1000 do
    redis.call(cmd, key, unpack(args, i, math.min(i + 999, #args)))
  end
end
local out, leased = {}, {}
for a = 5, #ARGV - 1, 2 do
  local target, max = ARGV[a], tonumber(ARGV[a + 1])
  if max and max > 0 then
    local due, suffix = prefix .. 'due:' .. target, '|' .. target
    local jobs = redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, max)
    bulk('ZREM', due, jobs)
    for _, job in ipairs(jobs) do
      local ev, f = prefix .. 'ev:' .. string.sub(job, 1, -#suffix - 1), nil
      if string.sub(job, -#suffix) == suffix then
        f = redis.call('HMGET', ev, 'e', 'decision', 'since:' .. target, 'status:' .. target,
          'attempts:' .. target, 'state', 'id')
      end
      if not f or not (f[6] or f[1] or f[7]) or f[4] then
        out[#out + 1] = {0, job}
      else
        local n = (tonumber(f[5]) or 0) + 1
        redis.call('HSET', ev, 'attempts:' .. target, n, 'lease:' .. target, token)
        leased[#leased + 1] = expiry
        leased[#leased + 1] = job
        local parts = f[1]
        -- An event stored before the packed layout: one field per part (event_record.h).
        if not parts then
          parts = redis.call('HMGET', ev, 'received_at', 'type', 'route', 'provider', 'verified', 'data', 'idem',
            'raw_method', 'raw_path', 'raw_query', 'raw_content_type', 'raw_body')
        end
        out[#out + 1] = {1, job, n, parts, f[2], f[3]}
      end
    end
  end
end
bulk('ZADD', KEYS[1], leased)
return out
)lua";

// KEYS: the job's due set, leased, dead, attempts list, event hash, targets set, the retention index.
// ARGV: job, target, token, mode (complete|reschedule|bury|release), time (due, dead or release score),
//       record JSON without its "attempt", reason, records kept, follow-up target, decision, has follow-up,
//       queue the follow-up job ('1') or record the decision alone ('0').
// Returns 'ok', 'lost' or 'gone'.
constexpr std::string_view kFinishScript = R"lua(
local job, target, mode, ev = ARGV[1], ARGV[2], ARGV[4], KEYS[5]
local f = redis.call('HMGET', ev, 'state', 'lease:' .. target, 'attempts:' .. target, 'targets')
if not f[1] and redis.call('HEXISTS', ev, 'e') == 0 and redis.call('HEXISTS', ev, 'id') == 0 then
  redis.call('ZREM', KEYS[1], job)
  redis.call('ZREM', KEYS[2], job)
  return 'gone'
end
if f[2] ~= ARGV[3] then return 'lost' end
local state, list = f[1], f[4] or ''
redis.call('HDEL', ev, 'lease:' .. target)
redis.call('ZREM', KEYS[2], job)
redis.call('ZREM', KEYS[1], job)
if mode == 'release' then
  redis.call('HSET', ev, 'attempts:' .. target, (tonumber(f[3]) or 1) - 1)
  redis.call('ZADD', KEYS[1], ARGV[5], job)
  return 'ok'
end
local keep = tonumber(ARGV[8])
if redis.call('RPUSH', KEYS[4], '{"attempt":' .. (f[3] or '0') .. ',' .. string.sub(ARGV[6], 2)) > keep then
  redis.call('LTRIM', KEYS[4], -keep, -1)
end
if mode == 'complete' then
  if ARGV[11] == '1' then
    local next = ARGV[9]
    local next_job = string.sub(job, 1, -#target - 2) .. '|' .. next
    -- A decision already carried out (or being carried out) stays the event's decision: a replayed
    -- notify neither changes it nor calls the API again.
    local settled = redis.call('HGET', ev, 'status:' .. next) or redis.call('ZSCORE', KEYS[2], next_job)
        or redis.call('ZSCORE', KEYS[3], next_job)
        or redis.call('ZSCORE', string.sub(KEYS[1], 1, -#target - 1) .. next, next_job)
    if not settled then
      redis.call('HSET', ev, 'decision', ARGV[10])
      if ARGV[12] == '1' then
        local known = false
        for t in string.gmatch(list, '[^,]+') do if t == next then known = true end end
        if not known then
          list = (list == '') and next or (list .. ',' .. next)
          redis.call('HSET', ev, 'targets', list)
        end
        redis.call('ZADD', string.sub(KEYS[1], 1, -#target - 1) .. next, ARGV[5], next_job)
        redis.call('SADD', KEYS[6], next)
      end
    end
  end
  local all = state ~= 'dead'
  if all then
    for t in string.gmatch(list, '[^,]+') do
      if t ~= target and redis.call('HGET', ev, 'status:' .. t) ~= 'delivered' then
        all = false
        break
      end
    end
  end
  if all then
    redis.call('HSET', ev, 'status:' .. target, 'delivered', 'state', 'delivered')
    redis.call('ZADD', KEYS[7], ARGV[5], string.sub(job, 1, -#target - 2))
  else
    redis.call('HSET', ev, 'status:' .. target, 'delivered')
  end
elseif mode == 'reschedule' then
  redis.call('ZADD', KEYS[1], ARGV[5], job)
  if state ~= 'dead' and state ~= 'retrying' then redis.call('HSET', ev, 'state', 'retrying') end
else
  redis.call('ZADD', KEYS[3], ARGV[5], job)
  redis.call('HSET', ev, 'status:' .. target, 'dead', 'reason:' .. target, ARGV[7], 'state', 'dead')
end
return 'ok'
)lua";

// The due counts of every target in the targets set, then leased and dead, as {leased, dead, {target, due,
// target, due, ...}}; the sweep and depth scripts both start with it.
constexpr std::string_view kDepthFunction = R"lua(
local function depth(prefix, leased, dead, targets)
  local per = {}
  for _, t in ipairs(redis.call('SMEMBERS', targets)) do
    per[#per + 1] = t
    per[#per + 1] = redis.call('ZCARD', prefix .. 'due:' .. t)
  end
  return {redis.call('ZCARD', leased), redis.call('ZCARD', dead), per}
end
)lua";

// KEYS: leased, dead, events, targets.  ARGV: key prefix, now, max, window start, cursor score, cursor skip,
//       then the configured target names.
// Returns {expired, scanned, repaired, next cursor score, next cursor skip, wrapped, depth...}.
// The repair walks {p}:events by receipt time; a (score, skip) cursor resumes exactly, even inside a run
// of events received in the same millisecond.
constexpr std::string_view kSweepScript = R"lua(
local prefix, now, max = ARGV[1], ARGV[2], tonumber(ARGV[3])
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now, 'LIMIT', 0, max)
for _, job in ipairs(expired) do
  redis.call('ZREM', KEYS[1], job)
  local bar = string.find(job, '|', 1, true)
  if bar then
    local target = string.sub(job, bar + 1)
    redis.call('ZADD', prefix .. 'due:' .. target, now, job)
    redis.call('SADD', KEYS[4], target)
  end
end
local from, skip = ARGV[5], tonumber(ARGV[6])
if from == '' or tonumber(from) < tonumber(ARGV[4]) then from, skip = ARGV[4], 0 end
local evs = redis.call('ZRANGEBYSCORE', KEYS[3], from, '+inf', 'WITHSCORES', 'LIMIT', skip, max)
local last, last_skip, repaired = from, skip, 0
for i = 1, #evs, 2 do
  local id, score = evs[i], evs[i + 1]
  if score == last then last_skip = last_skip + 1 else last, last_skip = score, 1 end
  local ev = prefix .. 'ev:' .. id
  local state = redis.call('HGET', ev, 'state')
  if state and state ~= 'delivered' and state ~= 'stored' then
    for t in string.gmatch(redis.call('HGET', ev, 'targets') or '', '[^,]+') do
      local job = id .. '|' .. t
      if not redis.call('HGET', ev, 'status:' .. t) and not redis.call('ZSCORE', prefix .. 'due:' .. t, job)
          and not redis.call('ZSCORE', KEYS[1], job) and not redis.call('ZSCORE', KEYS[2], job) then
        redis.call('ZADD', prefix .. 'due:' .. t, now, job)
        redis.call('SADD', KEYS[4], t)
        repaired = repaired + 1
      end
    end
  end
end
local wrapped = 0
if #evs < 2 * max then last, last_skip, wrapped = '', 0, 1 end
-- The configured targets: the store adds a target to the set once per connection, so a set flushed under
-- steady load would otherwise stay short until the flush is noticed.
if #ARGV > 6 then redis.call('SADD', KEYS[4], unpack(ARGV, 7)) end
local d = depth(prefix, KEYS[1], KEYS[2], KEYS[4])
return {#expired, #evs / 2, repaired, last, last_skip, wrapped, d[1], d[2], d[3]}
)lua";

// KEYS: leased, dead, targets.  ARGV: key prefix.
constexpr std::string_view kDepthScript = R"lua(
return depth(ARGV[1], KEYS[1], KEYS[2], KEYS[3])
)lua";

constexpr size_t kAnswerHeadBytes = 1024;

std::pair<std::string, std::string> splitJob(const std::string& job_id) {
  size_t bar = job_id.find('|');
  if (bar == std::string::npos) return {job_id, {}};
  return {job_id.substr(0, bar), job_id.substr(bar + 1)};
}

Result<ClaimBatch> parseClaim(const ScriptReply& r) {
  if (!r.ok() || r.value.type != ScriptValue::Type::kArray) return lua::scriptError("claim", r);
  ClaimBatch batch;
  for (const ScriptValue& entry : r.value.elements) {
    int64_t kind = 0;
    if (!integer(element(entry, 0), kind) || !element(entry, 1)) return lua::scriptError("claim", {});
    std::string job = text(element(entry, 1));
    ++batch.taken[splitJob(job).second];
    if (kind == 0) {
      batch.dropped.push_back(std::move(job));
      continue;
    }
    int64_t attempt = 0;
    const ScriptValue* f = element(entry, 3);
    if (!integer(element(entry, 2), attempt) || !f) return lua::scriptError("claim", {});
    ClaimedJob j;
    auto [id, target] = splitJob(job);
    j.target = std::move(target);
    j.attempt = static_cast<int>(attempt);
    j.event.id = std::move(id);
    if (f->type == ScriptValue::Type::kArray && f->elements.size() == record::kParts.size()) {
      // The older layout's fields; none at all is a hash that lost its parts, not an event to deliver.
      record::Parts parts;
      size_t present = 0;
      for (size_t i = 0; i < parts.size(); ++i)
        if (f->elements[i].type == ScriptValue::Type::kString) {
          parts[i] = f->elements[i].str;
          ++present;
        }
      record::fill(parts, j.event);
      j.unreadable = present == 0;
    } else if (auto parts = f->type == ScriptValue::Type::kString ? record::unpack(f->str) : std::nullopt) {
      record::fill(*parts, j.event);
    } else {
      j.unreadable = true;
    }
    j.decision = text(element(entry, 4));
    int64_t since = 0;
    if (integer(element(entry, 5), since)) j.since_ms = since;
    j.lease.job_id = std::move(job);
    batch.jobs.push_back(std::move(j));
  }
  return batch;
}

// {leased, dead, {target, due, ...}} starting at `from` in an array reply.
bool parseDepth(const ScriptValue& v, size_t from, QueueDepth& d) {
  const ScriptValue* per = element(v, from + 2);
  if (!integer(element(v, from), d.leased) || !integer(element(v, from + 1), d.dead) || !per ||
      per->type != ScriptValue::Type::kArray)
    return false;
  for (size_t i = 0; i + 1 < per->elements.size(); i += 2) {
    int64_t n = 0;
    if (!integer(&per->elements[i + 1], n)) return false;
    d.due_by_target[text(&per->elements[i])] = n;
    d.due += n;
  }
  return true;
}

}  // namespace

JobQueue::JobQueue(RedisStore& store, JobQueueOptions options)
    : store_(store),
      options_(std::move(options)),
      key_prefix_("{" + options_.prefix + "}:"),
      due_prefix_(key_prefix_ + "due:"),
      targets_key_(key_prefix_ + "targets"),
      leased_key_(key_prefix_ + "leased"),
      dead_key_(key_prefix_ + "dead"),
      events_key_(key_prefix_ + "events"),
      claim_script_(std::string(kClaimScript)),
      finish_script_(std::string(kFinishScript)),
      sweep_script_(std::string(kDepthFunction) + std::string(kSweepScript)),
      depth_script_(std::string(kDepthFunction) + std::string(kDepthScript)) {
  if (options_.instance_id.empty()) {
    // Tokens only have to differ between claims; 64 bits from the OS make two instances collide never in
    // practice, and the counter makes each claim of this instance distinct.
    std::random_device rd;
    char buf[17];
    std::snprintf(buf, sizeof(buf), "%08x%08x", rd(), rd());
    options_.instance_id = buf;
  }
  if (options_.attempts_kept == 0) options_.attempts_kept = 1;
}

void JobQueue::claim(const std::vector<ClaimWant>& wants, int64_t now_ms, uint64_t lease_ms,
                     std::function<void(Result<ClaimBatch>)> cb) {
  std::string token = options_.instance_id + ":" + number(static_cast<int64_t>(++next_token_));
  std::vector<std::string> args{key_prefix_, number(now_ms), number(now_ms + static_cast<int64_t>(lease_ms)),
                                token};
  args.reserve(4 + 2 * wants.size());
  for (const auto& w : wants) {
    args.push_back(w.target);
    args.push_back(number(static_cast<int64_t>(w.max)));
  }
  store_.runScript(claim_script_, {leased_key_}, std::move(args), [cb = std::move(cb), token](ScriptReply r) {
    Result<ClaimBatch> batch = parseClaim(r);
    if (batch)
      for (auto& j : batch->jobs) j.lease.token = token;
    cb(std::move(batch));
  });
}

void JobQueue::complete(const JobLease& lease, const AttemptRecord& record,
                        std::function<void(Result<LeaseOutcome>)> cb) {
  finish("complete", lease, &record, record.at_ms, {}, nullptr, std::move(cb));
}

void JobQueue::complete(const JobLease& lease, const AttemptRecord& record, const FollowUp& next,
                        std::function<void(Result<LeaseOutcome>)> cb) {
  finish("complete", lease, &record, record.at_ms, {}, &next, std::move(cb));
}

void JobQueue::reschedule(const JobLease& lease, const AttemptRecord& record, int64_t due_ms,
                          std::function<void(Result<LeaseOutcome>)> cb) {
  finish("reschedule", lease, &record, due_ms, {}, nullptr, std::move(cb));
}

void JobQueue::bury(const JobLease& lease, const AttemptRecord& record, const std::string& reason,
                    std::function<void(Result<LeaseOutcome>)> cb) {
  finish("bury", lease, &record, record.at_ms, reason, nullptr, std::move(cb));
}

void JobQueue::release(const JobLease& lease, int64_t now_ms, std::function<void(Result<LeaseOutcome>)> cb) {
  finish("release", lease, nullptr, now_ms, {}, nullptr, std::move(cb));
}

std::string JobQueue::recordJson(const JobLease& lease, const AttemptRecord& record, const char* result,
                                 int64_t next_due_ms, const std::string& reason) const {
  nlohmann::ordered_json j;
  j["target"] = splitJob(lease.job_id).second;
  j["at"] = record.at_ms;
  j["status"] = record.status;
  j["error"] = record.error;
  j["latency_ms"] = record.latency_ms;
  j["answer_head"] = record.answer_head.substr(0, kAnswerHeadBytes);
  j["result"] = result;
  if (next_due_ms >= 0) j["next_due"] = next_due_ms;
  if (!reason.empty()) j["reason"] = reason;
  // Answers are arbitrary bytes; a JSON line must stay valid, so invalid UTF-8 becomes U+FFFD.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void JobQueue::finish(const char* mode, const JobLease& lease, const AttemptRecord* record, int64_t when_ms,
                      const std::string& reason, const FollowUp* next,
                      std::function<void(Result<LeaseOutcome>)> cb) {
  auto [event_id, target] = splitJob(lease.job_id);
  std::string json;
  if (record) {
    std::string_view m(mode);
    const char* result = m == "complete" ? "delivered" : m == "reschedule" ? "retry" : "dead";
    json = recordJson(lease, *record, result, m == "reschedule" ? when_ms : -1, reason);
  }
  store_.runScript(finish_script_,
                   {due_prefix_ + target, leased_key_, dead_key_, key_prefix_ + "attempts:" + event_id,
                    key_prefix_ + "ev:" + event_id, targets_key_, events_key_ + ":done"},
                   {lease.job_id, target, lease.token, mode, number(when_ms), std::move(json), reason,
                    number(static_cast<int64_t>(options_.attempts_kept)), next ? next->target : std::string(),
                    next ? next->decision : std::string(), next ? "1" : "0", next && next->call ? "1" : "0"},
                   [cb = std::move(cb)](ScriptReply r) {
                     std::string s = text(&r.value);
                     if (!r.ok() || (s != "ok" && s != "lost" && s != "gone")) {
                       cb(lua::scriptError("finishing a job", r));
                       return;
                     }
                     cb(s == "ok"     ? LeaseOutcome::kApplied
                        : s == "lost" ? LeaseOutcome::kLeaseLost
                                      : LeaseOutcome::kEventGone);
                   });
}

void JobQueue::sweep(int64_t now_ms, size_t max, const std::vector<std::string>& targets,
                     std::function<void(Result<SweepReport>)> cb) {
  if (max == 0) max = 1;
  int64_t window_start = now_ms - static_cast<int64_t>(options_.repair_window_ms);
  std::vector<std::string> args = {key_prefix_,          number(now_ms), number(static_cast<int64_t>(max)),
                                   number(window_start), cursor_->score, number(cursor_->skip)};
  args.insert(args.end(), targets.begin(), targets.end());
  store_.runScript(sweep_script_, {leased_key_, dead_key_, events_key_, targets_key_}, std::move(args),
                   [cursor = cursor_, cb = std::move(cb)](ScriptReply r) {
                     int64_t expired = 0, scanned = 0, repaired = 0, skip = 0, wrapped = 0;
                     if (!r.ok() || r.value.elements.size() != 9 || !integer(element(r.value, 0), expired) ||
                         !integer(element(r.value, 1), scanned) || !integer(element(r.value, 2), repaired) ||
                         !integer(element(r.value, 4), skip) || !integer(element(r.value, 5), wrapped)) {
                       cb(lua::scriptError("sweep", r));
                       return;
                     }
                     SweepReport rep;
                     if (!parseDepth(r.value, 6, rep.depth)) {
                       cb(lua::scriptError("sweep", r));
                       return;
                     }
                     cursor->score = text(element(r.value, 3));
                     cursor->skip = skip;
                     rep.expired = static_cast<size_t>(expired);
                     rep.scanned = static_cast<size_t>(scanned);
                     rep.repaired = static_cast<size_t>(repaired);
                     rep.wrapped = wrapped != 0;
                     cb(rep);
                   });
}

void JobQueue::depth(std::function<void(Result<QueueDepth>)> cb) {
  store_.runScript(depth_script_, {leased_key_, dead_key_, targets_key_}, {key_prefix_},
                   [cb = std::move(cb)](ScriptReply r) {
                     QueueDepth d;
                     if (!r.ok() || !parseDepth(r.value, 0, d)) {
                       cb(lua::scriptError("depth", r));
                       return;
                     }
                     cb(d);
                   });
}

}  // namespace payhook::queue
