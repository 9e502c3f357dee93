#include "queue/job_queue.h"

#include <hiredis/hiredis.h>

#include "queue/event_record.h"
#include "queue/expectations.h"
#include "queue/lua_scripts.h"
#include "redis/command.h"
#include "redis/connection.h"
#include "redis/script_reply.h"

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

using redis::lua::element;
using redis::lua::integer;
using redis::lua::isArray;
using redis::lua::number;
using redis::lua::scriptError;
using redis::lua::text;

constexpr size_t kAnswerHeadBytes = 1024;
// The finishing script's values per job (queue/lua/job_finish.lua).
constexpr size_t kFinishArgs = 11;

std::pair<std::string, std::string> splitJob(const std::string& job_id) {
  size_t bar = job_id.find('|');
  if (bar == std::string::npos) return {job_id, {}};
  return {job_id.substr(0, bar), job_id.substr(bar + 1)};
}

// The claim's reply, read where hiredis left it: copying it into a ScriptValue tree first would cost an
// allocation per element and a copy of every event, the larger part of what reading a claim costs.
const redisReply* at(const redisReply& r, size_t i) {
  return r.type == REDIS_REPLY_ARRAY && i < r.elements ? r.element[i] : nullptr;
}
std::string_view view(const redisReply* r) {
  return r && r->type == REDIS_REPLY_STRING ? std::string_view(r->str, r->len) : std::string_view();
}
bool integerOf(const redisReply* r, int64_t& out) {
  if (!r) return false;
  if (r->type == REDIS_REPLY_INTEGER) {
    out = r->integer;
    return true;
  }
  if (r->type != REDIS_REPLY_STRING) return false;
  auto [end, ec] = std::from_chars(r->str, r->str + r->len, out);
  return ec == std::errc() && end == r->str + r->len;
}

Result<ClaimBatch> parseClaim(const redisReply& r) {
  if (r.type != REDIS_REPLY_ARRAY) return Error{"claim: unexpected reply"};
  ClaimBatch batch;
  batch.jobs.reserve(r.elements);
  for (size_t e = 0; e < r.elements; ++e) {
    const redisReply& entry = *r.element[e];
    int64_t kind = 0;
    if (!integerOf(at(entry, 0), kind) || !at(entry, 1)) return Error{"claim: unexpected reply"};
    const std::string_view job = view(at(entry, 1));
    const size_t bar = job.find('|');
    const std::string_view target = bar == std::string_view::npos ? std::string_view() : job.substr(bar + 1);
    ++batch.taken[std::string(target)];
    if (kind == 0) {
      batch.dropped.emplace_back(job);
      continue;
    }
    int64_t attempt = 0;
    const redisReply* f = at(entry, 3);
    if (!integerOf(at(entry, 2), attempt) || !f) return Error{"claim: unexpected reply"};
    ClaimedJob& j = batch.jobs.emplace_back();
    j.target = target;
    j.attempt = static_cast<int>(attempt);
    j.event.id = job.substr(0, bar);
    if (f->type == REDIS_REPLY_ARRAY && f->elements == record::kParts.size()) {
      // The older layout's fields; none at all is a hash that lost its parts, not an event to deliver.
      record::Parts parts;
      size_t present = 0;
      for (size_t i = 0; i < parts.size(); ++i)
        if (f->element[i]->type == REDIS_REPLY_STRING) {
          parts[i] = view(f->element[i]);
          ++present;
        }
      record::fill(parts, j.event);
      j.unreadable = present == 0;
    } else if (auto parts = f->type == REDIS_REPLY_STRING ? record::unpack(view(f)) : std::nullopt) {
      record::fill(*parts, j.event);
    } else {
      j.unreadable = true;
    }
    j.decision = view(at(entry, 4));
    int64_t since = 0;
    if (integerOf(at(entry, 5), since)) j.since_ms = since;
    j.lease.job_id = job;
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
      claim_script_(std::string(scripts::kJobClaim)),
      finish_script_(std::string(scripts::kListingKeys) + std::string(scripts::kExpectSettle) +
                     std::string(scripts::kJobFinish)),
      sweep_script_(std::string(scripts::kJobDepthFunction) + std::string(scripts::kJobSweep)),
      depth_script_(std::string(scripts::kJobDepthFunction) + std::string(scripts::kJobDepth)) {
  if (options_.instance_id.empty()) {
    // Tokens only have to differ between claims; 64 bits from the OS make two instances collide never in
    // practice, and the counter makes each claim of this instance distinct.
    std::random_device rd;
    char buf[17];
    std::snprintf(buf, sizeof(buf), "%08x%08x", rd(), rd());
    options_.instance_id = buf;
  }
  if (options_.attempts_kept == 0) options_.attempts_kept = 1;
  finishes_->owner = this;
}

JobQueue::~JobQueue() {
  finishes_->owner = nullptr;
  // Jobs never sent: their leases expire and the sweep makes them due again.
  auto callbacks = std::exchange(finishes_->callbacks, {});
  for (auto& cb : callbacks) cb(Error{"job queue closed before the job was finished"});
}

void JobQueue::claim(const std::vector<ClaimWant>& wants, int64_t now_ms, uint64_t lease_ms,
                     std::function<void(Result<ClaimBatch>)> cb) {
  const std::string token = options_.instance_id + ":" + number(static_cast<int64_t>(++next_token_));
  // numkeys, leased, then prefix, now, expiry, token and a (target, max) pair per want.
  const uint32_t argc = 6 + 2 * static_cast<uint32_t>(wants.size());
  auto write = [&](std::string& c) {
    redis::appendBulk(c, "1");
    redis::appendBulk(c, leased_key_);
    redis::appendBulk(c, key_prefix_);
    redis::appendBulk(c, number(now_ms));
    redis::appendBulk(c, number(now_ms + static_cast<int64_t>(lease_ms)));
    redis::appendBulk(c, token);
    for (const auto& w : wants) {
      redis::appendBulk(c, w.target);
      redis::appendBulk(c, number(static_cast<int64_t>(w.max)));
    }
  };
  redis::Connection& conn = store_.connection();
  // The completion runs inside the connection: it reads the reply there and posts the answer.
  conn.call(claim_script_, argc, write,
            [&conn, cb = std::move(cb), token](const redis::CallEnd& end) mutable {
              Result<ClaimBatch> batch = end.outcome == redis::ScriptOutcome::kOk
                                             ? parseClaim(*end.reply)
                                             : Result<ClaimBatch>(Error{"claim: " + std::string(end.error)});
              if (batch)
                for (auto& j : batch->jobs) j.lease.token = token;
              conn.post([cb = std::move(cb), batch = std::move(batch)]() mutable { cb(std::move(batch)); });
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

void JobQueue::settle(const JobLease& lease, const AttemptRecord& record, const RecheckOutcome& outcome,
                      std::function<void(Result<LeaseOutcome>)> cb) {
  std::string json = recordJson(lease, record, outcome.confirmed ? "confirmed" : "refuted", -1, outcome.note);
  std::string packed;
  std::string targets;
  std::string listing = record::packListing(outcome.event.listing);
  std::string order;
  if (outcome.confirmed) {
    if (std::string lines = expectationLines(key_prefix_, outcome.event); !lines.empty())
      order =
          key_prefix_ + "idem:" + outcome.event.route + ":" + outcome.event.idempotency_key + "\n" + lines;
    std::string received_at;
    const record::Parts parts = record::partsOf(outcome.event, received_at);
    packed.reserve(record::packedSize(parts));
    record::appendPacked(packed, parts);
    for (const auto& t : outcome.targets) targets += (targets.empty() ? "" : ",") + t;
  }
  push(outcome.confirmed ? "confirm" : "refute", lease, std::move(json), record.at_ms, outcome.note,
       std::move(targets), std::move(packed), std::move(listing), std::move(order), std::move(cb));
}

void JobQueue::finish(const char* mode, const JobLease& lease, const AttemptRecord* record, int64_t when_ms,
                      const std::string& reason, const FollowUp* next,
                      std::function<void(Result<LeaseOutcome>)> cb) {
  std::string json;
  if (record) {
    std::string_view m(mode);
    const char* result = m == "complete" ? "delivered" : m == "reschedule" ? "retry" : "dead";
    json = recordJson(lease, *record, result, m == "reschedule" ? when_ms : -1, reason);
  }
  push(mode, lease, std::move(json), when_ms, reason, next ? next->target : std::string(),
       next ? next->decision : std::string(), next ? "1" : "0", next && next->call ? "1" : "0",
       std::move(cb));
}

void JobQueue::push(const char* mode, const JobLease& lease, std::string record_json, int64_t when_ms,
                    std::string reason, std::string next_target, std::string decision, std::string has_next,
                    std::string call, std::function<void(Result<LeaseOutcome>)> cb) {
  std::string target = splitJob(lease.job_id).second;
  Finishes& f = *finishes_;
  if (f.args.empty()) {
    f.args.reserve(2 + kFinishArgs * 16);
    f.args.push_back(key_prefix_);
    f.args.push_back(number(static_cast<int64_t>(options_.attempts_kept)));
  }
  f.args.push_back(lease.job_id);
  f.args.push_back(std::move(target));
  f.args.push_back(lease.token);
  f.args.push_back(mode);
  f.args.push_back(number(when_ms));
  f.args.push_back(std::move(record_json));
  f.args.push_back(std::move(reason));
  f.args.push_back(std::move(next_target));
  f.args.push_back(std::move(decision));
  f.args.push_back(std::move(has_next));
  f.args.push_back(std::move(call));
  f.callbacks.push_back(std::move(cb));
  flushFinishes();
}

void JobQueue::flushFinishes() {
  Finishes& f = *finishes_;
  if (f.sending || f.callbacks.empty()) return;
  f.sending = true;
  auto callbacks = std::exchange(f.callbacks, {});
  std::weak_ptr<Finishes> weak = finishes_;
  store_.runScript(finish_script_, {leased_key_, dead_key_, targets_key_, events_key_ + ":done"},
                   std::exchange(f.args, {}), [weak, callbacks = std::move(callbacks)](ScriptReply r) {
                     const bool shaped = r.ok() && r.value.type == ScriptValue::Type::kArray &&
                                         r.value.elements.size() == callbacks.size();
                     for (size_t i = 0; i < callbacks.size(); ++i) {
                       const std::string s = shaped ? text(&r.value.elements[i]) : std::string();
                       if (s == "ok")
                         callbacks[i](LeaseOutcome::kApplied);
                       else if (s == "lost")
                         callbacks[i](LeaseOutcome::kLeaseLost);
                       else if (s == "gone")
                         callbacks[i](LeaseOutcome::kEventGone);
                       else
                         callbacks[i](scriptError("finishing a job", r));
                     }
                     // A callback may have destroyed the queue: only a live one sends what waited.
                     if (auto f = weak.lock(); f && f->owner) {
                       f->sending = false;
                       f->owner->flushFinishes();
                     }
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
                       cb(scriptError("sweep", r));
                       return;
                     }
                     SweepReport rep;
                     if (!parseDepth(r.value, 6, rep.depth)) {
                       cb(scriptError("sweep", r));
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
                       cb(scriptError("depth", r));
                       return;
                     }
                     cb(d);
                   });
}

}  // namespace payhook::queue
