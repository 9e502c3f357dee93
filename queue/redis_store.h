// RedisStore: EventStore over hiredis' async API, attached to the daemon's libuv loop.
//
// The keys and an event's fields are described once, in docs/architecture.md ("The Redis schema"). They all
// carry the "{prefix}" hash tag, so every script is valid on Redis Cluster too.
// An event without an idempotency key is keyed by its own id, so it is never taken for a duplicate.
//
// Threading: everything runs on the loop given to the constructor; no method may be called from another
// thread. The process must ignore SIGPIPE (hiredis writes with write(2)).
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/redis_url.h"
#include "common/result.h"
#include "common/secret.h"
#include "queue/event_store.h"

namespace payhook::queue {

// URL parsing lives in common/ so the config loader validates with the same code.
using payhook::parseRedisUrl;
using payhook::redactRedisUrl;
using payhook::RedisAddress;

struct RedisStoreOptions {
  std::string url;
  Secret password;  // when set, used instead of any password in the url
  std::string prefix = "payhook";
  uint64_t store_timeout_ms = 2'000;
  uint64_t connect_timeout_ms = 2'000;
  uint64_t reconnect_initial_ms = 100;
  // Capped low on purpose: every callback is refused with 503 until the store is back, so a Redis that
  // returns must be found within a second; one connect attempt every 500 ms costs nothing.
  uint64_t reconnect_max_ms = 500;
  // While idle, a PING this often (bounded by store_timeout like any command), so readiness notices a Redis
  // that went silent without closing the connection. 0 disables it.
  uint64_t heartbeat_ms = 1'000;
};

// A Lua script for RedisStore::runScript(): its text, and the SHA1 Redis knows it by, learnt from the first
// SCRIPT LOAD and kept for every later call. Copies share that cache. Use it on one loop only.
class Script {
 public:
  explicit Script(std::string text);
  const std::string& text() const;

 private:
  friend class RedisStore;
  struct State {
    std::string text;
    std::string sha;       // empty until a SCRIPT LOAD answered
    bool loading = false;  // a SCRIPT LOAD is in flight
  };
  std::shared_ptr<State> state_;
};

// One value of a script's reply, copied out of hiredis so it outlives the callback. Lua's false is kNil,
// true is the integer 1, a table is kArray (cut at its first nil, as Redis does).
struct ScriptValue {
  enum class Type : uint8_t { kNil, kInteger, kString, kStatus, kError, kArray };
  Type type = Type::kNil;
  int64_t integer = 0;
  std::string str;  // kString, kStatus, kError
  std::vector<ScriptValue> elements;
};

enum class ScriptOutcome {
  kOk,           // the script ran and `value` is its reply
  kUnavailable,  // not connected, or the connection broke before the answer: the script may have run
  kTimeout,      // no answer within store_timeout_ms: the script may have run
  kError,        // Redis answered with an error (the script raised one, or its keys were wrong)
};

struct ScriptReply {
  ScriptOutcome outcome = ScriptOutcome::kError;
  ScriptValue value;  // kOk only
  std::string error;  // otherwise: a message without secrets
  bool ok() const { return outcome == ScriptOutcome::kOk; }
};

// The major version in the text of INFO server ("redis_version:7.0.15" on a line of its own; Valkey reports
// one too), or -1 when there is none. The store script's SET with both NX and GET needs Redis 7.0.
int redisMajorVersion(std::string_view info);

class RedisStore final : public EventStore {
 public:
  // An invalid URL is reported by start() in the log; the store then stays unready.
  RedisStore(uv_loop_t* loop, RedisStoreOptions options);
  // Safe with or without stop(). Callbacks not yet delivered are destroyed without being called: to get
  // every answer, call stop() and run the loop until it ends before destroying the store.
  ~RedisStore() override;
  RedisStore(const RedisStore&) = delete;
  RedisStore& operator=(const RedisStore&) = delete;

  // Starts connecting; keeps reconnecting with capped exponential backoff for as long as it runs.
  void start();
  // Stops reconnecting, fails queued work as kUnavailable and closes every handle; the loop can then end.
  // Answers still owed are delivered on the loop afterwards, as always. A stopped store stays stopped.
  void stop();

  // Not ready: kUnavailable without touching Redis. Otherwise one EVALSHA, bounded by store_timeout_ms; on
  // a timeout the connection is dropped and re-established, since a connection that lost a reply can no
  // longer be trusted to pair replies with commands. A command lost with its connection answers kUnavailable
  // (Redis went away) or kTimeout (we dropped it): either way it may have been written.
  void store(const Event& event, const StoreSpec& spec, Done done) override;
  bool ready() const override;
  // The note is read inside the store script (KEYS[6]), before the idempotency key is claimed.
  void storeUnlessNoted(const Event& event, const StoreSpec& spec, const std::string& note_key,
                        Done done) override;
  // One GET, SET or DEL each, with store()'s guarantees (see runScript()).
  void findStored(const std::string& route, const std::string& key, LookupDone done) override;
  void putNote(const std::string& route, const std::string& key, const std::string& value, uint64_t ttl_s,
               LookupDone done) override;
  // One script: the idempotency key's GET and the event's packed field.
  void findStoredEvent(const std::string& route, const std::string& key, EventLookupDone done) override;

  using ScriptDone = std::function<void(ScriptReply)>;
  // Runs `script` with its KEYS and ARGV on the store's connection, with store()'s guarantees: kUnavailable
  // without touching Redis when not ready; bounded by store_timeout_ms (a timeout drops the connection);
  // EVALSHA once the sha is known, the script text itself the first time and after NOSCRIPT (Redis
  // restarted, SCRIPT FLUSH), while a SCRIPT LOAD learns or restores the sha. `done` runs exactly once, on
  // the loop, never before runScript() returns. Keys must share the store's "{prefix}" hash tag.
  void runScript(const Script& script, std::vector<std::string> keys, std::vector<std::string> args,
                 ScriptDone done);

  // How often Redis was found without payhook's data since start: the data marker {p}:marker, set on the
  // first connection, was missing or different on a reconnect or a heartbeat. Each is logged as an error.
  uint64_t dataLosses() const;

  // Called on the loop whenever readiness changes (connected and script loaded, or lost).
  void onReadyChange(std::function<void(bool ready)> cb);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Script get_script_{"return redis.call('GET', KEYS[1])"};
  // KEYS: the idempotency key, then the event hashes' key prefix ("{p}:ev:", under the same hash tag).
  Script find_event_script_{
      "local id = redis.call('GET', KEYS[1]) if not id then return false end "
      "return {id, redis.call('HGET', KEYS[2] .. id, 'e') or ''}"};
  Script put_script_{
      "if ARGV[1] == '' then return redis.call('DEL', KEYS[1]) end "
      "return redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])"};
};

}  // namespace payhook::queue
