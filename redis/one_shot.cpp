#include "redis/one_shot.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <utility>

#include "redis/uv_adapter.h"

namespace payhook::redis {

OneShot::OneShot(uv_loop_t* loop) : loop_(loop), timer_(loop) {}

OneShot::~OneShot() {
  cancel();
  timer_.close();
}

void OneShot::cancel() {
  timer_.stop();
  done_ = nullptr;
  release();
}

// Frees the context, never from inside one of its callbacks: from cancel(), the timer or run().
void OneShot::release() {
  redisAsyncContext* c = std::exchange(ctx_, nullptr);
  if (!c) return;
  c->data = nullptr;  // the callbacks hiredis still makes while freeing find no owner
  redisAsyncFree(c);
}

void OneShot::run(const std::string& ip, int port, std::vector<std::string> commands, uint64_t timeout_ms,
                  Done done) {
  cancel();
  done_ = std::move(done);
  replies_.clear();
  error_.clear();
  answered_ = false;
  expected_ = commands.size();
  timer_.start(timeout_ms, [this, timeout_ms] {
    if (!answered_) {
      answered_ = true;
      replies_.clear();
      error_ = "no answer within " + std::to_string(timeout_ms) + " ms";
    }
    release();
    Done d = std::exchange(done_, nullptr);
    if (d) d(std::move(replies_), std::move(error_));
  });
  redisAsyncContext* c = redisAsyncConnect(ip.c_str(), port);
  if (!c || c->err) {
    finishSoon(c ? c->errstr : "out of memory");
    if (c) redisAsyncFree(c);
    return;
  }
  if (attachToLoop(c, loop_) != REDIS_OK) {
    redisAsyncFree(c);
    finishSoon("cannot watch the socket on the loop");
    return;
  }
  c->data = this;
  redisAsyncSetConnectCallback(c, &OneShot::onConnectCb);
  redisAsyncSetDisconnectCallback(c, &OneShot::onDisconnectCb);
  ctx_ = c;
  for (const std::string& cmd : commands)
    redisAsyncFormattedCommand(c, &OneShot::onReplyCb, nullptr, cmd.data(), cmd.size());
}

void OneShot::finishSoon(std::string error) {
  if (answered_) return;
  answered_ = true;
  error_ = std::move(error);
  if (!error_.empty()) replies_.clear();
  if (ctx_) {
    // Inside a callback of this context: hiredis frees it once the callback returns (after a failed
    // connect or a disconnect) or once the replies still owed are in (after redisAsyncDisconnect).
    redisAsyncContext* c = std::exchange(ctx_, nullptr);
    c->data = nullptr;
    if (!(c->c.flags & REDIS_DISCONNECTING) && c->c.flags & REDIS_CONNECTED) redisAsyncDisconnect(c);
  }
  timer_.start(0, [this] {
    Done d = std::exchange(done_, nullptr);
    if (d) d(std::move(replies_), std::move(error_));
  });
}

void OneShot::onConnectCb(const redisAsyncContext* ac, int status) noexcept {
  auto* self = static_cast<OneShot*>(ac->data);
  if (!self || status == REDIS_OK) return;
  self->ctx_ = nullptr;  // hiredis frees it when this returns
  self->finishSoon(ac->c.errstr[0] ? ac->c.errstr : "connect failed");
}

void OneShot::onDisconnectCb(const redisAsyncContext* ac, int /*status*/) noexcept {
  auto* self = static_cast<OneShot*>(ac->data);
  if (!self) return;
  self->ctx_ = nullptr;
  self->finishSoon(ac->c.errstr[0] ? ac->c.errstr : "connection closed");
}

void OneShot::onReplyCb(redisAsyncContext* ac, void* reply, void* /*privdata*/) noexcept {
  auto* self = static_cast<OneShot*>(ac->data);
  if (!self || !reply || self->answered_) return;
  self->replies_.push_back(copyReply(*static_cast<redisReply*>(reply)));
  if (self->replies_.size() == self->expected_) self->finishSoon({});
}

}  // namespace payhook::redis
