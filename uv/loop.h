// The event loop of a program, from start-up to a shutdown that leaves nothing behind.
#pragma once

#include <uv.h>

#include "common/check.h"

namespace payhook::uv {

class Loop {
 public:
  Loop() { PAYHOOK_CHECK(uv_loop_init(&loop_) == 0, "uv_loop_init failed"); }
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;
  ~Loop() { close(); }

  uv_loop_t* get() { return &loop_; }
  // Until nothing is left to do.
  void run() { uv_run(&loop_, UV_RUN_DEFAULT); }

  // Runs the close callbacks of everything already released, then closes any handle still open and runs
  // the loop until those are closed too, so the loop itself can close. Returns how many handles were left
  // open (0 after a clean shutdown); a handle closed here without its owner may leak its memory, which the
  // process leaves behind as it ends anyway.
  int close() {
    if (closed_) return 0;
    closed_ = true;
    uv_run(&loop_, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop_) == 0) return 0;
    int left = 0;
    uv_walk(
        &loop_,
        [](uv_handle_t* h, void* count) {
          ++*static_cast<int*>(count);
          if (!uv_is_closing(h)) uv_close(h, nullptr);
        },
        &left);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
    return left;
  }

 private:
  uv_loop_t loop_{};
  bool closed_ = false;
};

}  // namespace payhook::uv
