// Connection: one hiredis async connection to Redis on a libuv loop, kept up for as long as it runs, and the
// scripts run on it.
//
// It connects (names resolved off the loop), authenticates, selects the database, refuses a Redis older
// than 7.0, loads the scripts given to preload(), checks the data marker, and is then ready. While idle, a
// heartbeat reads the marker. Every command is bounded by a timeout; a command that times out drops the
// connection, since a connection that lost a reply can no longer be trusted to pair replies with commands.
// A lost connection is re-established with capped exponential backoff.
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
#include <type_traits>
#include <vector>

#include "common/secret.h"
#include "redis/calls.h"
#include "redis/script.h"

namespace payhook::redis {

struct ConnectionOptions {
  std::string url;
  Secret password;         // when set, used instead of any password in the url
  std::string marker_key;  // the data marker's key (data_marker.h)
  uint64_t command_timeout_ms = 2'000;
  uint64_t connect_timeout_ms = 2'000;
  uint64_t reconnect_initial_ms = 100;
  uint64_t reconnect_max_ms = 500;
  uint64_t heartbeat_ms = 1'000;  // 0: none
  Secret sentinel_password;       // redis+sentinel://: the sentinels' own AUTH, when they need one
  // confirmReplicas(): WAIT for this many replicas, at most replica_timeout_ms.
  uint32_t min_replicas = 0;
  uint64_t replica_timeout_ms = 500;
};

// How the WAITs of confirmReplicas() ended since start.
struct ReplicaWaits {
  uint64_t confirmed = 0;   // enough replicas acknowledged
  uint64_t short_of = 0;    // fewer than min_replicas within replica_timeout
  uint64_t failed = 0;      // no answer: the connection was lost or replaced
  int64_t last_acked = -1;  // replicas the last answered WAIT counted; -1 before the first
};

// The major version in the text of INFO server ("redis_version:7.0.15" on a line of its own; Valkey reports
// one too), or -1 when there is none.
int redisMajorVersion(std::string_view info);

class Connection {
 public:
  // An invalid URL is reported by start() in the log; the connection then stays unready.
  Connection(uv_loop_t* loop, ConnectionOptions options);
  // Safe with or without stop(). Callbacks not yet run are destroyed uncalled: to get every answer, call
  // stop() and run the loop until it ends first.
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // A script every handshake loads: the connection is ready only once Redis knows it, so calls of it go
  // out as EVALSHA from the first. Before start().
  void preload(const Script& script);

  // Starts connecting.
  void start();
  // Stops reconnecting, fails queued work as kUnavailable and closes every handle; the loop can then end.
  // Callbacks still owed run on the loop afterwards, as always. A stopped connection stays stopped.
  void stop();

  // Connected, and the handshake done.
  bool ready() const;
  // Called on the loop whenever ready() changes.
  void onReadyChange(std::function<void(bool ready)> cb);
  // How often Redis was found without payhook's data since start (data_marker.h). Each is logged as an error.
  uint64_t dataLosses() const;
  // Changes with every new connection and every data loss: something a caller writes to Redis once per
  // generation (a member of a set, say) has to be written again when it changes.
  uint64_t generation() const;

  using ScriptDone = std::function<void(ScriptReply)>;
  // Runs `script` with its KEYS and ARGV: kUnavailable without touching Redis when not ready; bounded by the
  // command timeout (a timeout drops the connection); EVALSHA once the sha is known, the script text itself
  // the first time and after NOSCRIPT (Redis restarted, SCRIPT FLUSH), while a SCRIPT LOAD learns or
  // restores the sha. A call lost with its connection answers kUnavailable (Redis went away) or kTimeout (it
  // was dropped): either way it may have run. `done` runs exactly once, on the loop, never before
  // runScript() returns. Keys must share one hash tag, for Redis Cluster. With `confirm_found`, for a
  // read whose find a caller may acknowledge: a reply other than nil comes only once min_replicas replicas
  // hold what was read (confirmReplicas() with a touch, on the connection that read it), else kUnavailable.
  void runScript(const Script& script, std::vector<std::string> keys, std::vector<std::string> args,
                 ScriptDone done, bool confirm_found = false);

  // runScript() for a caller that writes the arguments and reads the reply itself, to spare a copy of
  // either: `write(std::string&)` appends `argc` RESP bulk strings (numkeys, KEYS, ARGV; command.h) to the
  // command, and `done` is told how the call ended, from inside the connection (calls.h says what it may do).
  template <class Write>
  void call(const Script& script, uint32_t argc, Write&& write, Completion done) {
    using W = std::remove_reference_t<Write>;
    callWith(
        script, argc, [](void* w, std::string& out) { (*static_cast<W*>(w))(out); }, &write, std::move(done));
  }

  // One command other than a script (INFO, CONFIG GET, ROLE), with runScript()'s guarantees; a Redis error
  // reply ends as kError with its text.
  void command(std::vector<std::string> argv, ScriptDone done);

  // Told whether enough replicas hold a write, from inside the connection like a Completion: it may only
  // record the answer and post the caller's callback.
  using Confirmed = std::function<void(bool confirmed, std::string_view why)>;
  // Call from the Completion of a call, i.e. on the connection that carried it: `done` says whether
  // min_replicas replicas acknowledged every write this connection had sent by then (a WAIT sent after
  // it; calls arriving while one WAIT is out share the next). With `touch`, for a call that only read what
  // an earlier connection or another instance wrote (a duplicate, a stored decision), one small write goes
  // first, so that the WAIT covers everything the master held at that moment. False when the replicas did
  // not confirm within replica_timeout, or when the connection was lost or replaced first. Confirmed at
  // once when min_replicas is 0.
  void confirmReplicas(Confirmed done, bool touch = false);
  const ReplicaWaits& replicaWaits() const;
  uint32_t minReplicas() const;
  // "host:port" of the Redis connected to now (the master found through Sentinel or Cluster), or empty.
  std::string endpoint() const;

  // Runs `cb` on the loop with the callbacks owed to callers, in order.
  void post(std::function<void()> cb);

 private:
  void callWith(const Script& script, uint32_t argc, void (*write)(void*, std::string&), void* writer,
                Completion done);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace payhook::redis
