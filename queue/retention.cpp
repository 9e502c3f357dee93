#include "queue/retention.h"

#include <charconv>
#include <memory>
#include <utility>
#include <vector>

#include "queue/lua_scripts.h"
#include "redis/script_reply.h"

namespace payhook::queue {
namespace {

using redis::lua::element;
using redis::lua::integer;
using redis::lua::number;
using redis::lua::scriptError;
using redis::lua::text;

// Declared as writing (a shebang without no-writes), so Redis checks, before running it, everything that
// would make it refuse a write; it writes nothing.
constexpr std::string_view kWritableScript = "#!lua\nreturn 1\n";

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
      sweep_script_(std::string(scripts::kListingKeys) + std::string(scripts::kRetentionSweep)),
      writable_script_(std::string(kWritableScript)),
      info_script_(std::string(scripts::kRetentionInfo)) {}

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
                       cb(scriptError("retention sweep", r));
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
          cb(scriptError("redis probe", w));
          return;
        }
        std::string refused = w.ok() ? std::string() : std::move(w.error);
        store->runScript(script, std::move(keys), {},
                         [refused = std::move(refused), cb = std::move(cb)](ScriptReply r) {
                           RedisHealth h;
                           const std::string info = text(element(r.value, 0));
                           if (!r.ok() || info.empty() || !integer(element(r.value, 2), h.events) ||
                               !integer(element(r.value, 3), h.completed)) {
                             cb(scriptError("redis probe", r));
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
