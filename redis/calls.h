// The commands sent on a connection and not yet answered. Each gets its reply, the loss of its connection
// (hiredis calls back with NULL) or its deadline, whichever comes first, and is answered exactly once; a
// script call that meets NOSCRIPT is sent again with the script's text.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "redis/script.h"
#include "uv/handle.h"

struct redisAsyncContext;
struct redisReply;

namespace payhook::redis {

// How a call ended, as the connection saw it. `reply` and `error` are valid during the callback only.
struct CallEnd {
  ScriptOutcome outcome = ScriptOutcome::kError;
  const redisReply* reply = nullptr;  // kOk: the reply, never an error reply
  std::string_view error = {};        // otherwise: why, without secrets
};

// Told once how a call ended, from inside the connection (a hiredis callback, a timer, or the call itself
// when not connected): it may only record the answer and post the caller's callback, never run it.
using Completion = std::function<void(const CallEnd&)>;

class Calls;

enum class OpKind : uint8_t { kCall, kScriptLoad, kHeartbeat, kCommand };

// An error reply saying that this node is not (or no longer) the one that takes the writes: MOVED, ASK,
// READONLY, CLUSTERDOWN, TRYAGAIN, MASTERDOWN or LOADING. Nothing was written.
bool isRedirect(std::string_view error);

// One command awaiting its reply. hiredis holds it as privdata until it calls back exactly once (with the
// reply, or NULL when the context goes away), so it is recycled only there, even after a timeout.
struct Op {
  Calls* calls = nullptr;
  Op* prev = nullptr;  // deadline list, oldest first
  Op* next = nullptr;
  bool linked = false;
  bool finished = false;  // the answer is already given; the reply only recycles the op
  bool retried = false;   // NOSCRIPT was already answered with EVAL once
  OpKind kind = OpKind::kCall;
  uint64_t deadline = 0;
  uint32_t argc = 0;
  size_t tail = 0;  // offset in cmd of the arguments after the script or its sha
  std::string cmd;  // RESP, kept for the NOSCRIPT fallback
  std::shared_ptr<Script::State> script = nullptr;  // the script a kCall runs or a kScriptLoad loads
  Completion done = nullptr;
};

class Calls {
 public:
  struct Hooks {
    std::function<void(const redisReply&)> heartbeat;  // a heartbeat's reply, unless an error
    std::function<void()> timed_out;  // a command passed its deadline: the connection must be dropped
    // A call met isRedirect(): the master is elsewhere, so the connection must be replaced; the call ends
    // as kUnavailable. Without this hook such an answer is a kError like any other.
    std::function<void(std::string_view error)> redirected;
  };

  Calls(uv_loop_t* loop, uint64_t timeout_ms, Hooks hooks);
  ~Calls();
  Calls(const Calls&) = delete;
  Calls& operator=(const Calls&) = delete;

  void setRedirected(std::function<void(std::string_view)> hook) { hooks_.redirected = std::move(hook); }
  // The context commands go to from now on; null while there is none.
  void attach(redisAsyncContext* ctx) { ctx_ = ctx; }
  // Frees `c` (never from inside a hiredis callback): hiredis answers every command still waiting on it
  // with NULL before this returns, and those are answered `outcome` with `reason`.
  void freeContext(redisAsyncContext* c, ScriptOutcome outcome, const char* reason);
  void closeTimer() { timeout_timer_.close(); }

  bool idle() const { return head_ == nullptr; }
  // Only while attached. `write` appends `argc` RESP arguments after the script or its sha.
  void call(const Script& script, uint32_t argc, void (*write)(void*, std::string&), void* writer,
            Completion done);
  // Any other command: `write` appends all of it, array header included. An error reply ends as kError.
  void command(void (*write)(void*, std::string&), void* writer, Completion done);
  // A GET of `key`, whose reply goes to the heartbeat hook.
  void heartbeat(std::string_view key);

 private:
  static void onReplyCb(redisAsyncContext* ac, void* r, void* privdata) noexcept;
  void onReply(redisAsyncContext* ac, const redisReply* r, Op* op);
  void loadScript(const std::shared_ptr<Script::State>& script);
  void send(Op* op);
  void resendWithEval(Op* op);
  void onTimeoutSweep();
  void finish(Op* op, ScriptOutcome outcome, std::string_view error, const redisReply* reply = nullptr);
  Op* acquire(OpKind kind);
  void release(Op* op);
  void link(Op* op);
  void unlink(Op* op);

  uv_loop_t* loop_;
  uint64_t timeout_ms_;
  Hooks hooks_;
  redisAsyncContext* ctx_ = nullptr;
  uv::Timer timeout_timer_;
  // Set while freeContext() runs, to say how the commands it fails are answered.
  ScriptOutcome drop_outcome_ = ScriptOutcome::kUnavailable;
  const char* drop_reason_ = nullptr;
  // Sent and not answered, oldest first. Every op gets the same timeout, so this is also deadline order.
  Op* head_ = nullptr;
  Op* tail_ = nullptr;
  // Ops are reused, buffers included, so a steady stream of commands allocates nothing per command.
  std::vector<Op*> free_;
};

}  // namespace payhook::redis
