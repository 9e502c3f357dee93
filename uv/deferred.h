// Closures run on a later loop turn, in the order they were posted.
#pragma once

#include <uv.h>

#include <functional>
#include <utility>
#include <vector>

#include "common/check.h"

namespace payhook::uv {

// The timer and the queue live in a heap block that outlives its owner when it must: closures posted
// before the owner let go (a failure queued by a shutdown in a destructor) still run, then the block closes
// itself and is freed in the close callback.
class Deferred {
 public:
  Deferred() = default;
  explicit Deferred(uv_loop_t* loop) : b_(new Block()) {
    PAYHOOK_CHECK(uv_timer_init(loop, &b_->timer) == 0, "uv_timer_init failed");
    b_->timer.data = b_;
  }
  Deferred(const Deferred&) = delete;
  Deferred& operator=(const Deferred&) = delete;
  Deferred(Deferred&& o) noexcept : b_(std::exchange(o.b_, nullptr)) {}
  Deferred& operator=(Deferred&& o) noexcept {
    if (this != &o) {
      release();
      b_ = std::exchange(o.b_, nullptr);
    }
    return *this;
  }
  ~Deferred() { release(); }

  void post(std::function<void()> fn) {
    if (!b_) return;
    b_->queue.push_back(std::move(fn));
    if (!uv_is_active(b_->base())) uv_timer_start(&b_->timer, &Deferred::onFire, 0, 0);
  }

  // Lets go of the block: what is queued still runs, then it closes itself.
  void release() noexcept {
    auto* b = std::exchange(b_, nullptr);
    if (!b) return;
    b->orphaned = true;
    if (b->queue.empty() && !uv_is_active(b->base())) b->close();
  }

  explicit operator bool() const { return b_ != nullptr; }

 private:
  struct Block {
    uv_timer_t timer{};
    std::vector<std::function<void()>> queue;
    bool orphaned = false;

    uv_handle_t* base() { return reinterpret_cast<uv_handle_t*>(&timer); }
    void close() {
      if (!uv_is_closing(base()))
        uv_close(base(), [](uv_handle_t* h) { delete static_cast<Block*>(h->data); });
    }
  };

  static void onFire(uv_timer_t* t) noexcept {
    auto* b = static_cast<Block*>(t->data);
    // Swap first: a closure may post more (a new send from a done callback), which then runs next turn.
    auto run = std::move(b->queue);
    b->queue.clear();
    for (auto& fn : run) fn();
    if (b->orphaned && b->queue.empty()) b->close();
  }

  Block* b_ = nullptr;
};

}  // namespace payhook::uv
