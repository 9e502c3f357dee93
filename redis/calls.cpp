#include "redis/calls.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <utility>

#include "redis/command.h"

namespace payhook::redis {
namespace {

// Pooled commands keep their buffer; one that held a huge body gives it back rather than pin it.
constexpr size_t kMaxPooledCommandBytes = 16 * 1024;
constexpr size_t kMaxPooledOps = 1024;

}  // namespace

bool isRedirect(std::string_view error) {
  for (std::string_view p :
       {"MOVED ", "ASK ", "READONLY ", "CLUSTERDOWN ", "TRYAGAIN ", "MASTERDOWN ", "LOADING "})
    if (error.starts_with(p)) return true;
  return false;
}

Calls::Calls(uv_loop_t* loop, uint64_t timeout_ms, Hooks hooks)
    : loop_(loop), timeout_ms_(timeout_ms), hooks_(std::move(hooks)), timeout_timer_(loop) {}

Calls::~Calls() {
  for (Op* op : free_) delete op;
}

void Calls::freeContext(redisAsyncContext* c, ScriptOutcome outcome, const char* reason) {
  if (c == ctx_) ctx_ = nullptr;
  drop_outcome_ = outcome;
  drop_reason_ = reason;
  redisAsyncFree(c);
  drop_outcome_ = ScriptOutcome::kUnavailable;
  drop_reason_ = nullptr;
}

void Calls::call(const Script& script, uint32_t argc, void (*write)(void*, std::string&), void* writer,
                 Completion done) {
  Op* op = acquire(OpKind::kCall);
  op->script = script.state();
  op->done = std::move(done);
  op->argc = 2 + argc;
  std::string& c = op->cmd;
  c.clear();
  appendArrayHeader(c, op->argc);
  if (op->script->sha.empty()) {
    // Unknown sha: run the text now and learn the sha on the side, so the first call costs no round trip.
    c += "$4\r\nEVAL\r\n";
    appendBulk(c, op->script->text);
    op->retried = true;
    loadScript(op->script);
  } else {
    c += "$7\r\nEVALSHA\r\n";
    appendBulk(c, op->script->sha);
  }
  op->tail = c.size();
  write(writer, c);
  send(op);
}

void Calls::command(void (*write)(void*, std::string&), void* writer, Completion done) {
  Op* op = acquire(OpKind::kCommand);
  op->done = std::move(done);
  op->cmd.clear();
  write(writer, op->cmd);
  send(op);
}

void Calls::heartbeat(std::string_view key) {
  Op* op = acquire(OpKind::kHeartbeat);
  op->cmd.assign("*2\r\n$3\r\nGET\r\n");
  appendBulk(op->cmd, key);
  send(op);
}

// SCRIPT LOAD of a script, at most one in flight per script.
void Calls::loadScript(const std::shared_ptr<Script::State>& script) {
  if (script->loading || !ctx_) return;
  Op* op = acquire(OpKind::kScriptLoad);
  op->script = script;
  op->cmd.assign("*3\r\n$6\r\nSCRIPT\r\n$4\r\nLOAD\r\n");
  appendBulk(op->cmd, script->text);
  script->loading = true;
  send(op);
}

void Calls::send(Op* op) {
  if (redisAsyncFormattedCommand(ctx_, &Calls::onReplyCb, op, op->cmd.data(), op->cmd.size()) != REDIS_OK) {
    finish(op, ScriptOutcome::kUnavailable, "Redis connection is closing");
    release(op);
    return;
  }
  op->deadline = uv_now(loop_) + timeout_ms_;
  link(op);
  // Deadlines are uniform, so the list is in deadline order and an idle timer means this op is the head.
  if (!timeout_timer_.active()) timeout_timer_.start(timeout_ms_, [this] { onTimeoutSweep(); });
}

void Calls::onReplyCb(redisAsyncContext* ac, void* r, void* privdata) noexcept {
  auto* op = static_cast<Op*>(privdata);
  op->calls->onReply(ac, static_cast<redisReply*>(r), op);
}

void Calls::onReply(redisAsyncContext* ac, const redisReply* r, Op* op) {
  if (op->finished) {  // already answered (timed out); this is the late reply or its NULL
    release(op);
    return;
  }
  if (!r) {
    const char* reason = drop_reason_ ? drop_reason_ : "connection to Redis lost before the answer";
    finish(op, drop_reason_ ? drop_outcome_ : ScriptOutcome::kUnavailable, reason);
    release(op);
    return;
  }
  if (op->kind == OpKind::kHeartbeat) {
    if (r->type != REDIS_REPLY_ERROR && hooks_.heartbeat) hooks_.heartbeat(*r);
    // An idle connection to a node that no longer serves the slot learns it here, not from the next write.
    if (r->type == REDIS_REPLY_ERROR && hooks_.redirected && isRedirect(replyText(*r))) {
      const std::string_view text = replyText(*r);
      release(op);
      hooks_.redirected(text);
      return;
    }
    release(op);
    return;
  }
  if (op->kind == OpKind::kScriptLoad) {
    if (r->type == REDIS_REPLY_STRING && r->len == 40) op->script->sha.assign(r->str, r->len);
    finish(op, ScriptOutcome::kOk, {});
    release(op);
    return;
  }
  if (r->type == REDIS_REPLY_ERROR) {
    std::string_view text = replyText(*r);
    // Redis restarted or SCRIPT FLUSH: run this one with the script itself, and load it again.
    if (op->kind == OpKind::kCall && text.starts_with("NOSCRIPT") && !op->retried && ac == ctx_) {
      op->retried = true;
      resendWithEval(op);
      loadScript(op->script);
      return;
    }
    if (hooks_.redirected && isRedirect(text)) {
      // Refused before anything was written; a caller may try again once the connection has moved.
      finish(op, ScriptOutcome::kUnavailable, text);
      release(op);
      if (hooks_.redirected) hooks_.redirected(text);
      return;
    }
    finish(op, ScriptOutcome::kError, text);
    release(op);
    return;
  }
  finish(op, ScriptOutcome::kOk, {}, r);
  release(op);
}

void Calls::resendWithEval(Op* op) {
  const std::string& text = op->script->text;
  std::string c;
  c.reserve(op->cmd.size() + text.size() + 32);
  appendArrayHeader(c, op->argc);
  c += "$4\r\nEVAL\r\n";
  appendBulk(c, text);
  size_t tail = c.size();
  c.append(op->cmd, op->tail, std::string::npos);
  op->cmd.swap(c);
  op->tail = tail;
  // Stays linked with its original deadline; the reply comes back to onReply.
  if (redisAsyncFormattedCommand(ctx_, &Calls::onReplyCb, op, op->cmd.data(), op->cmd.size()) != REDIS_OK) {
    finish(op, ScriptOutcome::kUnavailable, "Redis connection is closing");
    release(op);
  }
}

void Calls::onTimeoutSweep() {
  uint64_t now = uv_now(loop_);
  bool expired = false;
  while (head_ && head_->deadline <= now) {
    finish(head_, ScriptOutcome::kTimeout, "no answer from Redis within store_timeout");
    expired = true;
  }
  if (expired) {
    if (hooks_.timed_out) hooks_.timed_out();
    return;
  }
  if (head_) timeout_timer_.start(head_->deadline - now, [this] { onTimeoutSweep(); });
}

// The op's answer, given once; the op itself stays with hiredis until its callback.
void Calls::finish(Op* op, ScriptOutcome outcome, std::string_view error, const redisReply* reply) {
  unlink(op);
  op->finished = true;
  Completion done = std::exchange(op->done, nullptr);
  if (done) done(CallEnd{outcome, reply, error});
}

Op* Calls::acquire(OpKind kind) {
  Op* op;
  if (free_.empty()) {
    op = new Op();
  } else {
    op = free_.back();
    free_.pop_back();
  }
  op->calls = this;
  op->kind = kind;
  op->finished = false;
  op->retried = false;
  return op;
}

// Only once hiredis is done with the op.
void Calls::release(Op* op) {
  unlink(op);
  op->done = nullptr;
  // hiredis calls back once per command, even after a timeout or a drop, so this is where a SCRIPT LOAD
  // stops being in flight.
  if (op->kind == OpKind::kScriptLoad && op->script) op->script->loading = false;
  op->script.reset();
  if (free_.size() >= kMaxPooledOps) {
    delete op;
    return;
  }
  if (op->cmd.capacity() > kMaxPooledCommandBytes) std::string().swap(op->cmd);
  free_.push_back(op);
}

void Calls::link(Op* op) {
  op->prev = tail_;
  op->next = nullptr;
  (tail_ ? tail_->next : head_) = op;
  tail_ = op;
  op->linked = true;
}

void Calls::unlink(Op* op) {
  if (!op->linked) return;
  (op->prev ? op->prev->next : head_) = op->next;
  (op->next ? op->next->prev : tail_) = op->prev;
  op->prev = op->next = nullptr;
  op->linked = false;
}

}  // namespace payhook::redis
