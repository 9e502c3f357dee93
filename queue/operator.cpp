#include "queue/operator.h"

#include "queue/event_record.h"
#include "queue/lua_scripts.h"
#include "queue/retention.h"
#include "redis/replication_info.h"
#include "redis/script_reply.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <memory>
#include <utility>

namespace payhook::queue {
namespace {

using redis::lua::element;
using redis::lua::integer;
using redis::lua::integerOr0;
using redis::lua::isArray;
using redis::lua::number;
using redis::lua::scriptError;
using redis::lua::text;

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
  s.listing = record::unpackListing(text(element(v, 9)));
  if (v.elements.size() >= 12) {
    s.dead_target = text(element(v, 10));
    s.dead_at_ms = integerOr0(element(v, 11));
  }
  return true;
}

std::vector<std::string> operatorKeys(const std::string& leased, const std::string& dead,
                                      const std::string& events, const std::string& targets) {
  return {leased, dead, events, targets};
}

Script script(std::string_view body) {
  return Script(std::string(scripts::kListingKeys) + std::string(scripts::kOperatorCommon) +
                std::string(body));
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

bool isFindKey(std::string_view key) {
  return record::isListingKey(key);
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
      stats_script_(script(scripts::kOperatorStats)),
      list_script_(script(scripts::kOperatorList)),
      show_script_(script(scripts::kOperatorShow)),
      retry_script_(script(scripts::kOperatorRetry)),
      replay_script_(script(scripts::kOperatorReplay)),
      walk_dead_script_(script(scripts::kOperatorWalkDead)),
      find_script_(script(scripts::kOperatorFind)),
      reindex_read_script_(script(scripts::kOperatorReindexRead)),
      reindex_write_script_(script(scripts::kOperatorReindexWrite)) {}

namespace {

// ---- replies ----
// Each script's reply, read into the operation's result; a reply of the wrong shape is an error.

Result<QueueStats> parseStats(const ScriptReply& r, int64_t now_ms) {
  QueueStats s;
  s.now_ms = now_ms;
  const ScriptValue& v = r.value;
  if (!r.ok() || v.elements.size() != 11 || !integer(element(v, 0), s.events) ||
      !integer(element(v, 1), s.leased) || !integer(element(v, 2), s.leased_expired) ||
      !integer(element(v, 3), s.dead) || !integer(element(v, 5), s.dead_counted) || !isArray(element(v, 6)) ||
      !isArray(element(v, 7)) || !isArray(element(v, 8)))
    return scriptError("stats", r);
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
  for (size_t i = 0; i + 1 < br.size(); i += 2) routes[text(&br[i])] = integerOr0(&br[i + 1]);
  s.dead_by_route.assign(routes.begin(), routes.end());
  return s;
}

// One list script's rows, and where the next one starts.
struct ListBatch {
  std::vector<EventSummary> events;
  size_t scanned = 0;
  bool done = false;     // the end is reached
  ListCursor next;       // unless done
  std::string next_max;  // next.score as the script wrote it
};

Result<ListBatch> parseList(const ScriptReply& r) {
  const ScriptValue& v = r.value;
  int64_t skip = 0, done = 0, seen = 0, score = 0;
  const ScriptValue* rows = element(v, 0);
  if (!r.ok() || !isArray(rows) || !integer(element(v, 2), skip) || !integer(element(v, 3), done) ||
      !integer(element(v, 4), seen))
    return scriptError("list", r);
  ListBatch b;
  for (const auto& row : rows->elements) {
    EventSummary s;
    if (parseSummary(row, s)) b.events.push_back(std::move(s));
  }
  b.scanned = static_cast<size_t>(seen);
  // Not done means something was scanned, so the last score is a number; anything else ends the walk.
  if (!done && integer(element(v, 1), score)) {
    b.next = {score, skip};
    b.next_max = text(element(v, 1));
  } else {
    b.done = true;
  }
  return b;
}

Result<std::optional<EventDetail>> parseShow(const ScriptReply& r) {
  if (!r.ok()) return scriptError("show", r);
  if (r.value.type == ScriptValue::Type::kInteger) return std::optional<EventDetail>();
  const ScriptValue* hash = element(r.value, 0);
  const ScriptValue* attempts = element(r.value, 1);
  const ScriptValue* summary = element(r.value, 2);
  EventDetail d;
  if (!isArray(hash) || !isArray(attempts) || !summary || !parseSummary(*summary, d.summary))
    return scriptError("show", {});
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
  d.same_as = f["same_as"];
  d.data_json = f["data"];
  d.raw.method = f["raw_method"];
  d.raw.path = f["raw_path"];
  d.raw.query = f["raw_query"];
  d.raw.content_type = f["raw_content_type"];
  d.raw.body = f["raw_body"];
  d.attempts = strings(attempts);
  return std::optional<EventDetail>(std::move(d));
}

// One result per asked id, in the order asked; an id the script did not answer (one that cannot name an
// event never reaches it) is not_found.
Result<std::vector<RetryResult>> parseRetry(const ScriptReply& r, const std::vector<std::string>& ids) {
  if (!r.ok() || r.value.type != ScriptValue::Type::kArray) return scriptError("retry", r);
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
  return out;
}

// One batch of a walk over the dead set.
struct DeadBatch {
  int64_t done = 0;
  int64_t skipped = 0;
  int64_t kept = 0;
  bool finished = false;
  std::string score;  // the cursor's score after this batch
};

Result<DeadBatch> parseDeadBatch(const ScriptReply& r, const std::string& mode) {
  const ScriptValue& v = r.value;
  int64_t done = 0, skipped = 0, kept = 0, finished = 0;
  if (!r.ok() || !integer(element(v, 0), done) || !integer(element(v, 1), skipped) ||
      !integer(element(v, 3), kept) || !integer(element(v, 4), finished))
    return scriptError(mode == "retry" ? "retry dead" : "purge", r);
  return DeadBatch{done, skipped, kept, finished != 0, text(element(v, 2))};
}

Result<ReplayResult> parseReplay(const ScriptReply& r, const std::string& id) {
  const std::string outcome = text(element(r.value, 0));
  if (!r.ok() || outcome.empty()) return scriptError("replay", r);
  ReplayResult res;
  res.id = id;
  res.outcome = outcome == "replayed"  ? ReplayResult::Outcome::kReplayed
                : outcome == "busy"    ? ReplayResult::Outcome::kBusy
                : outcome == "nothing" ? ReplayResult::Outcome::kNothingToDo
                                       : ReplayResult::Outcome::kNotFound;
  res.targets = strings(element(r.value, 1));
  res.state = text(element(r.value, 2));
  return res;
}

// ---- walks ----

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
  walk->store->runScript(walk->script, walk->keys,
                         {walk->prefix, q.state == "dead" ? "dead" : "events", q.state, q.route, walk->max,
                          q.since_ms > 0 ? number(q.since_ms) : "-inf", number(walk->skip),
                          number(static_cast<int64_t>(kListScanMax)), number(static_cast<int64_t>(want))},
                         [walk](ScriptReply r) {
                           Result<ListBatch> batch = parseList(r);
                           if (!batch) {
                             walk->cb(batch.error());
                             return;
                           }
                           for (auto& e : batch->events) walk->page.events.push_back(std::move(e));
                           walk->page.scanned += batch->scanned;
                           ++walk->scripts;
                           if (!batch->done) {
                             walk->max = std::move(batch->next_max);
                             walk->skip = batch->next.skip;
                             walk->page.next_cursor = encodeCursor(batch->next);
                           } else {
                             walk->page.next_cursor.clear();
                           }
                           if (batch->done || walk->page.events.size() >= walk->query.limit ||
                               walk->scripts >= kListScriptsMax) {
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
                           Result<DeadBatch> batch = parseDeadBatch(r, walk->mode);
                           if (!batch) {
                             walk->cb(batch.error());
                             return;
                           }
                           walk->report.done += batch->done;
                           walk->report.skipped += batch->skipped;
                           ++walk->report.batches;
                           if (batch->finished || batch->score.empty() || batch->score == "-inf") {
                             walk->cb(walk->report);
                             return;
                           }
                           walk->score = std::move(batch->score);
                           walk->kept = batch->kept;
                           deadStep(walk);
                         });
}

Result<FindResult> parseFind(const ScriptReply& r) {
  const ScriptValue* rows = element(r.value, 0);
  int64_t more = 0;
  if (!r.ok() || !isArray(rows) || !integer(element(r.value, 1), more)) return scriptError("find", r);
  FindResult f;
  for (const auto& row : rows->elements) {
    EventSummary s;
    if (parseSummary(row, s)) f.events.push_back(std::move(s));
  }
  f.more = more != 0;
  return f;
}

struct ReindexWalk {
  RedisStore* store = nullptr;
  std::vector<std::string> keys;
  std::string prefix;
  std::string position_key;
  Operator::ListingOf listing;
  ReindexReport report;
  std::function<void(const ReindexReport&)> progress;
  std::function<void(Result<ReindexReport>)> cb;
  // Copies: the Operator may go before the walk ends (its scripts with it).
  Script read_copy{std::string()};
  Script write_copy{std::string()};
};

void reindexStep(const std::shared_ptr<ReindexWalk>& walk) {
  walk->store->runScript(
      walk->read_copy, walk->keys,
      {walk->prefix, walk->position_key, number(static_cast<int64_t>(kReindexBatch))}, [walk](ScriptReply r) {
        const ScriptValue* rows = element(r.value, 0);
        int64_t done = 0, read = 0;
        if (!r.ok() || !isArray(rows) || !integer(element(r.value, 2), done) ||
            !integer(element(r.value, 3), read)) {
          walk->cb(scriptError("reindex", r));
          return;
        }
        const std::string read_at = text(element(r.value, 4));
        if (walk->report.batches == 0) walk->report.resumed = !read_at.empty();
        std::vector<std::string> args{walk->prefix, walk->position_key, read_at,
                                      done ? std::string() : text(element(r.value, 1))};
        for (const auto& row : rows->elements) {
          const std::string id = text(element(row, 0));
          if (id.empty()) continue;
          args.push_back(id);
          args.push_back(record::packListing(walk->listing(text(element(row, 1)), text(element(row, 2)))));
        }
        walk->report.read += read;
        walk->store->runScript(walk->write_copy, walk->keys, std::move(args), [walk, done](ScriptReply w) {
          int64_t indexed = 0, moved = 0;
          if (!w.ok() || !integer(element(w.value, 0), indexed) || !integer(element(w.value, 1), moved)) {
            walk->cb(scriptError("reindex", w));
            return;
          }
          if (moved) {
            walk->cb(Error{"reindex: another reindex moved the position meanwhile; let it finish"});
            return;
          }
          walk->report.indexed += indexed;
          ++walk->report.batches;
          if (walk->progress) walk->progress(walk->report);
          if (done) {
            walk->cb(walk->report);
            return;
          }
          reindexStep(walk);
        });
      });
}

}  // namespace

void Operator::stats(int64_t now_ms, std::function<void(Result<QueueStats>)> cb) {
  store_.runScript(stats_script_, operatorKeys(leased_key_, dead_key_, events_key_, targets_key_),
                   {key_prefix_, number(now_ms), number(static_cast<int64_t>(kStatsDeadScan))},
                   // The connection outlives this operator and its calls; the operator may not.
                   [&conn = store_.connection(), cb = std::move(cb), now_ms](ScriptReply r) mutable {
                     auto stats = parseStats(r, now_ms);
                     if (!stats) return cb(std::move(stats));
                     stats->redis_at = conn.endpoint();
                     stats->min_replicas = conn.minReplicas();
                     conn.command({"INFO", "replication"},
                                  [cb = std::move(cb), stats = std::move(stats)](ScriptReply info) mutable {
                                    if (info.ok() && info.value.type == ScriptValue::Type::kString) {
                                      auto rep = redis::parseReplicationInfo(info.value.str);
                                      stats->role = rep.role;
                                      stats->replicas = rep.online;
                                    }
                                    cb(std::move(stats));
                                  });
                   });
}

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
  store_.runScript(show_script_, operatorKeys(leased_key_, dead_key_, events_key_, targets_key_),
                   {key_prefix_, id}, [cb = std::move(cb)](ScriptReply r) { cb(parseShow(r)); });
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
                   std::move(args), [cb = std::move(cb), ids](ScriptReply r) { cb(parseRetry(r, ids)); });
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
                   [cb = std::move(cb), id](ScriptReply r) { cb(parseReplay(r, id)); });
}

void Operator::find(const std::string& key, const std::string& route, size_t limit,
                    std::function<void(Result<FindResult>)> cb) {
  if (!isFindKey(key) || (!route.empty() && !isValidName(route)) || limit < 1 || limit > kFindLimitMax) {
    cb(Error{"invalid find query"});
    return;
  }
  store_.runScript(
      find_script_, operatorKeys(leased_key_, dead_key_, events_key_, targets_key_),
      {key_prefix_, key, route, number(static_cast<int64_t>(limit)), number(static_cast<int64_t>(kFindScan))},
      [cb = std::move(cb)](ScriptReply r) { cb(parseFind(r)); });
}

void Operator::reindex(ListingOf listing, std::function<void(const ReindexReport&)> progress,
                       std::function<void(Result<ReindexReport>)> cb) {
  auto walk = std::make_shared<ReindexWalk>();
  walk->store = &store_;
  walk->read_copy = reindex_read_script_;
  walk->write_copy = reindex_write_script_;
  walk->keys = operatorKeys(leased_key_, dead_key_, events_key_, targets_key_);
  walk->prefix = key_prefix_;
  walk->position_key = key_prefix_ + "reindex";
  walk->listing = std::move(listing);
  walk->progress = std::move(progress);
  walk->cb = std::move(cb);
  reindexStep(walk);
}

}  // namespace payhook::queue
