// RedisStore: EventStore over a redis::Connection, on the daemon's libuv loop.
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
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/redis_url.h"
#include "common/secret.h"
#include "queue/event_store.h"
#include "redis/connection.h"
#include "redis/script.h"

namespace payhook::queue {

// URL parsing lives in common/ so the config loader validates with the same code.
using payhook::parseRedisUrl;
using payhook::redactRedisUrl;
using payhook::RedisAddress;

// The script types of RedisStore::runScript(), which the queue's other parts use.
using redis::Script;
using redis::ScriptOutcome;
using redis::ScriptReply;
using redis::ScriptValue;

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
  // While idle, a read of the data marker this often (bounded by store_timeout like any command), so
  // readiness notices a Redis that went silent without closing the connection. 0 disables it.
  uint64_t heartbeat_ms = 1'000;
  Secret sentinel_password;  // redis+sentinel:// with sentinels that require AUTH
  // A store is answered kStored (or kDuplicate) only once this many replicas hold it (WAIT, at most
  // replica_timeout_ms); otherwise kUnavailable: it is stored, and the provider's retry finds it.
  uint32_t min_replicas = 0;
  uint64_t replica_timeout_ms = 500;
};

class RedisStore final : public EventStore {
 public:
  // An invalid URL is reported by start() in the log; the store then stays unready.
  RedisStore(uv_loop_t* loop, RedisStoreOptions options);
  // Safe with or without stop(). Callbacks not yet delivered are destroyed without being called: to get
  // every answer, call stop() and run the loop until it ends before destroying the store.
  ~RedisStore() override;
  RedisStore(const RedisStore&) = delete;
  RedisStore& operator=(const RedisStore&) = delete;

  // Starts connecting; keeps reconnecting with capped exponential backoff for as long as it runs. The
  // store script is loaded by every handshake: the store is ready once it is.
  void start();
  // Stops reconnecting, fails queued work as kUnavailable and closes every handle; the loop can then end.
  // Answers still owed are delivered on the loop afterwards, as always. A stopped store stays stopped.
  void stop();

  // Not ready: kUnavailable without touching Redis. Otherwise one EVALSHA, with runScript()'s guarantees.
  void store(const Event& event, const StoreSpec& spec, Done done) override;
  bool ready() const override;
  // The note is read inside the store script (KEYS[7]), before the idempotency key is claimed.
  void storeUnlessNoted(const Event& event, const StoreSpec& spec, const std::string& note_key,
                        Done done) override;
  // One GET, SET or DEL each, with runScript()'s guarantees. With min_replicas, what findStored() and
  // findStoredEvent() find is reported only once the replicas hold it (else ok = false: answer 503).
  void findStored(const std::string& route, const std::string& key, LookupDone done) override;
  void putNote(const std::string& route, const std::string& key, const std::string& value, uint64_t ttl_s,
               LookupDone done) override;
  // One script: the idempotency key's GET and the event's packed field.
  void findStoredEvent(const std::string& route, const std::string& key, EventLookupDone done) override;

  using ScriptDone = redis::Connection::ScriptDone;
  // Runs `script` on the store's connection (redis::Connection::runScript(), with store_timeout_ms as the
  // command timeout). Keys must share the store's "{prefix}" hash tag.
  void runScript(const Script& script, std::vector<std::string> keys, std::vector<std::string> args,
                 ScriptDone done);

  // The connection under the store: replica confirmations, where it is connected, raw commands.
  redis::Connection& connection() { return conn_; }
  const redis::Connection& connection() const { return conn_; }

  // How often Redis was found without payhook's data since start (the data marker, redis/data_marker.h).
  uint64_t dataLosses() const;

  // Called on the loop whenever readiness changes (connected and script loaded, or lost).
  void onReadyChange(std::function<void(bool ready)> cb);

 private:
  void store(const Event& event, const StoreSpec& spec, std::string_view note_key, Done done);
  void writeStoreArgs(std::string& c, const Event& e, const StoreSpec& spec, std::string_view note_key,
                      const std::string& flags) const;

  // A store() between its call and its answer: kept here, by slot number, so that the callbacks capture
  // only that number. Slots are reused; the vector grows to the most stores in flight at once.
  struct PendingStore {
    Done done;
    std::vector<std::string> registering;  // targets whose SADD this store carries
    StoreResult result;
  };
  uint32_t takeSlot();
  // Posts the slot's result to its caller and frees the slot.
  void answer(uint32_t slot);

  std::string key_prefix_;  // "{prefix}:"
  std::string due_key_;
  std::string events_key_;
  std::string targets_key_;
  std::string find_key_;
  // Target name -> the connection generation in which a store added it to {p}:targets.
  std::unordered_map<std::string, uint64_t> registered_;
  std::vector<PendingStore> pending_;
  std::vector<uint32_t> free_slots_;
  Script store_script_;
  Script get_script_{"return redis.call('GET', KEYS[1])"};
  // KEYS: the idempotency key, then the event hashes' key prefix ("{p}:ev:", under the same hash tag).
  Script find_event_script_{
      "local id = redis.call('GET', KEYS[1]) if not id then return false end "
      "return {id, redis.call('HGET', KEYS[2] .. id, 'e') or ''}"};
  Script put_script_{
      "if ARGV[1] == '' then return redis.call('DEL', KEYS[1]) end "
      "return redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])"};
  // Last: destroying it fails the calls in flight, whose completions still use the members above.
  redis::Connection conn_;
};

}  // namespace payhook::queue
