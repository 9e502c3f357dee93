// Move-only ownership of libuv handles.
//
// libuv may touch a handle until its close callback has run, so the memory of every handle lives in a
// heap block that is freed only in that callback (libuv's rule for uv_close()). The owning
// C++ object may die first: it clears the block's owner pointer and asks libuv to close; late callbacks
// then find no owner and do nothing.
#pragma once

#include <uv.h>

#include <functional>
#include <utility>

#include "common/check.h"

namespace payhook::uv {

// A heap block holding a libuv handle of type H plus the owner's state S (callbacks and the like).
template <class H, class S>
struct Block {
  H handle{};
  S state{};
};

template <class H, class S>
class Owned {
 public:
  Owned() = default;
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  Owned(Owned&& o) noexcept : b_(std::exchange(o.b_, nullptr)) {}
  Owned& operator=(Owned&& o) noexcept {
    if (this != &o) {
      close();
      b_ = std::exchange(o.b_, nullptr);
    }
    return *this;
  }
  ~Owned() { close(); }

  // Allocates the block; `init` must initialise the handle and return a libuv status.
  template <class Init>
  int open(Init&& init) {
    close();
    auto* b = new Block<H, S>();
    int rc = init(&b->handle);
    if (rc != 0) {
      delete b;  // never initialised, so libuv holds no reference
      return rc;
    }
    b->handle.data = b;
    b_ = b;
    return 0;
  }

  void close() noexcept {
    if (!b_) return;
    auto* b = std::exchange(b_, nullptr);
    b->state = S{};
    auto* base = reinterpret_cast<uv_handle_t*>(&b->handle);
    if (!uv_is_closing(base))
      uv_close(base, [](uv_handle_t* h) { delete static_cast<Block<H, S>*>(h->data); });
  }

  explicit operator bool() const { return b_ != nullptr; }
  H* get() const { return b_ ? &b_->handle : nullptr; }
  S* state() const { return b_ ? &b_->state : nullptr; }
  static S* stateOf(H* h) { return &static_cast<Block<H, S>*>(h->data)->state; }

 private:
  Block<H, S>* b_ = nullptr;
};

// A one-shot or repeating timer whose callback is a std::function.
class Timer {
 public:
  Timer() = default;
  explicit Timer(uv_loop_t* loop) {
    const int rc = h_.open([loop](uv_timer_t* t) { return uv_timer_init(loop, t); });
    PAYHOOK_CHECK(rc == 0, "uv_timer_init failed");
  }

  void start(uint64_t timeout_ms, std::function<void()> cb, uint64_t repeat_ms = 0) {
    if (!h_) return;
    h_.state()->cb = std::move(cb);
    uv_timer_start(h_.get(), &Timer::onTimer, timeout_ms, repeat_ms);
  }
  void stop() {
    if (h_) uv_timer_stop(h_.get());
  }
  bool active() const { return h_ && uv_is_active(reinterpret_cast<uv_handle_t*>(h_.get())); }
  // Keeps the loop from waiting on this timer alone.
  void unref() {
    if (h_) uv_unref(reinterpret_cast<uv_handle_t*>(h_.get()));
  }
  void close() { h_.close(); }

 private:
  struct State {
    std::function<void()> cb;
  };
  static void onTimer(uv_timer_t* t) noexcept {
    // Copy: the callback may restart or destroy this timer.
    auto cb = Owned<uv_timer_t, State>::stateOf(t)->cb;
    if (cb) cb();
  }
  Owned<uv_timer_t, State> h_;
};

// A signal watcher on the loop.
class Signal {
 public:
  Signal() = default;
  // Fails only when the loop's signal pipe cannot be made (no descriptor left at start-up).
  Signal(uv_loop_t* loop, int signum, std::function<void(int)> cb) {
    const int rc = h_.open([loop](uv_signal_t* s) { return uv_signal_init(loop, s); });
    PAYHOOK_CHECK(rc == 0, "uv_signal_init failed");
    h_.state()->cb = std::move(cb);
    uv_signal_start(h_.get(), &Signal::onSignal, signum);
  }
  void unref() {
    if (h_) uv_unref(reinterpret_cast<uv_handle_t*>(h_.get()));
  }
  void close() { h_.close(); }

 private:
  struct State {
    std::function<void(int)> cb;
  };
  static void onSignal(uv_signal_t* s, int signum) noexcept {
    auto cb = Owned<uv_signal_t, State>::stateOf(s)->cb;
    if (cb) cb(signum);
  }
  Owned<uv_signal_t, State> h_;
};

// A socket watched for readiness. Opening may fail (a descriptor epoll refuses), so it returns libuv's
// status; the callback gets the poll status and the ready events (UV_READABLE, UV_WRITABLE).
class Poll {
 public:
  using Callback = std::function<void(int status, int events)>;

  int open(uv_loop_t* loop, uv_os_sock_t socket, Callback cb) {
    const int rc = h_.open([loop, socket](uv_poll_t* p) { return uv_poll_init_socket(loop, p, socket); });
    if (rc == 0) h_.state()->cb = std::move(cb);
    return rc;
  }
  // Watches for `events`, replacing what was watched before.
  void start(int events) {
    if (h_) uv_poll_start(h_.get(), events, &Poll::onPoll);
  }
  // Closing stops the watch at once (the descriptor leaves epoll now), so the socket may be closed next.
  void close() { h_.close(); }
  explicit operator bool() const { return static_cast<bool>(h_); }

 private:
  struct State {
    Callback cb;
  };
  static void onPoll(uv_poll_t* p, int status, int events) noexcept {
    // Copy: the callback may close this poll.
    auto cb = Owned<uv_poll_t, State>::stateOf(p)->cb;
    if (cb) cb(status, events);
  }
  Owned<uv_poll_t, State> h_;
};

// Accepts one pending connection of a TCP or unix-socket listener and closes it at once: the peer gets a
// prompt end instead of a wait in the backlog.
inline void acceptAndClose(uv_stream_t* server) {
  struct None {};
  auto accept = [server](auto& stream) {
    if (stream) uv_accept(server, reinterpret_cast<uv_stream_t*>(stream.get()));
  };  // the stream closes when it leaves scope; its memory is freed in the close callback
  if (server->type == UV_TCP) {
    Owned<uv_tcp_t, None> tcp;
    tcp.open([server](uv_tcp_t* t) { return uv_tcp_init(server->loop, t); });
    accept(tcp);
  } else {
    Owned<uv_pipe_t, None> pipe;
    pipe.open([server](uv_pipe_t* p) { return uv_pipe_init(server->loop, p, 0); });
    accept(pipe);
  }
}

}  // namespace payhook::uv
