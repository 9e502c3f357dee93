// A libuv loop on its own thread for in-process test servers (sinks); closures posted to it run there,
// in order, and call() waits for a closure's result.
#pragma once

#include <uv.h>

#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

namespace payhook::testing {

class LoopThread {
 public:
  LoopThread() {
    uv_loop_init(&loop_);
    uv_async_init(&loop_, &async_, &LoopThread::onAsync);
    async_.data = this;
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  }
  ~LoopThread() {
    post([this] { uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr); });
    thread_.join();
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }
  uv_loop_t* loop() { return &loop_; }
  void post(std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(fn));
    }
    uv_async_send(&async_);
  }
  template <class F>
  auto call(F fn) -> decltype(fn()) {
    std::promise<decltype(fn())> p;
    auto f = p.get_future();
    post([&] {
      if constexpr (std::is_void_v<decltype(fn())>) {
        fn();
        p.set_value();
      } else {
        p.set_value(fn());
      }
    });
    return f.get();
  }

 private:
  static void onAsync(uv_async_t* a) noexcept {
    auto* self = static_cast<LoopThread*>(a->data);
    std::vector<std::function<void()>> run;
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      run.swap(self->queue_);
    }
    for (auto& fn : run) fn();
  }
  uv_loop_t loop_{};
  uv_async_t async_{};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::function<void()>> queue_;
};

}  // namespace payhook::testing
