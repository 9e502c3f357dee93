#include "redis/uv_adapter.h"

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <utility>

namespace payhook::redis {
namespace {

// hiredis 0.14's libuv adapter returns early when uv_poll reports an error status, and libuv reports a
// socket error (a refused connect, a reset from a killed Redis) as just that, after stopping the handle.
// hiredis then never hears of it: a refused connect waits for connect_timeout and a reset connection
// looks alive until a command times out. hiredis 1.0 fixed the adapter by handling the events it was
// watching, so read(2) or the connect check report the error; these hooks do the same and replace the
// adapter's four interest hooks right after redisLibuvAttach(). The adapter still owns the handle memory.
void onPoll(uv_poll_t* handle, int status, int events) noexcept {
  auto* p = static_cast<redisLibuvEvents*>(handle->data);
  // On an error libuv has stopped the handle: record that, so interest hiredis asks for again restarts it.
  int ev = status != 0 ? std::exchange(p->events, 0) : events;
  if (p->context && (ev & UV_READABLE)) redisAsyncHandleRead(p->context);
  if (p->context && (ev & UV_WRITABLE)) redisAsyncHandleWrite(p->context);
}

void updatePoll(redisLibuvEvents* p) {
  if (p->events)
    uv_poll_start(&p->handle, p->events, &onPoll);
  else
    uv_poll_stop(&p->handle);
}

// hiredis asks for write interest on every command it queues. uv_poll_start() re-registers the socket with
// epoll even when nothing changed (two epoll_ctl calls, one failing): only a change is passed on.
void setPollEvents(void* data, int events) {
  auto* p = static_cast<redisLibuvEvents*>(data);
  if (p->events == events) return;
  p->events = events;
  updatePoll(p);
}

void pollAddRead(void* data) noexcept {
  setPollEvents(data, static_cast<redisLibuvEvents*>(data)->events | UV_READABLE);
}

void pollDelRead(void* data) noexcept {
  setPollEvents(data, static_cast<redisLibuvEvents*>(data)->events & ~UV_READABLE);
}

void pollAddWrite(void* data) noexcept {
  setPollEvents(data, static_cast<redisLibuvEvents*>(data)->events | UV_WRITABLE);
}

void pollDelWrite(void* data) noexcept {
  setPollEvents(data, static_cast<redisLibuvEvents*>(data)->events & ~UV_WRITABLE);
}

}  // namespace

int attachToLoop(redisAsyncContext* c, uv_loop_t* loop) {
  if (redisLibuvAttach(c, loop) != REDIS_OK) return REDIS_ERR;
  c->ev.addRead = &pollAddRead;
  c->ev.delRead = &pollDelRead;
  c->ev.addWrite = &pollAddWrite;
  c->ev.delWrite = &pollDelWrite;
  return REDIS_OK;
}

}  // namespace payhook::redis
