// Callbacks owed to a Connection's callers, run from a zero timer on the loop: a caller's code never runs
// inside its own call, nor inside a hiredis callback, and may call the connection again or destroy it.
#pragma once

#include <uv.h>

#include <functional>
#include <vector>

#include "uv/handle.h"

namespace payhook::redis {

class Deferred {
 public:
  // `before_each` runs at the start of every batch, before its callbacks.
  Deferred(uv_loop_t* loop, std::function<void()> before_each);
  // Callbacks not yet run are destroyed uncalled; safe from inside one of them.
  ~Deferred();
  Deferred(const Deferred&) = delete;
  Deferred& operator=(const Deferred&) = delete;

  void post(std::function<void()> call);
  // Runs a batch soon even with nothing posted (for `before_each`).
  void wake();
  // From now on the timer is closed whenever nothing is owed, so the loop can end; a later post() opens it
  // again.
  void closeWhenIdle();

 private:
  void drain();
  void close();

  uv_loop_t* loop_;
  std::function<void()> before_each_;
  uv::Timer timer_;
  bool open_ = true;
  bool closing_ = false;
  std::vector<std::function<void()>> pending_;
  std::vector<std::function<void()>> draining_;
  bool* destroyed_flag_ = nullptr;  // non-null while draining
};

}  // namespace payhook::redis
