// Capped exponential backoff between connection attempts.
#pragma once

#include <algorithm>
#include <cstdint>

namespace payhook::redis {

class Backoff {
 public:
  Backoff(uint64_t initial_ms, uint64_t max_ms)
      : initial_ms_(std::max<uint64_t>(initial_ms, 1)), max_ms_(max_ms) {
    reset();
  }

  void reset() { next_ms_ = initial_ms_; }

  // The delay before the next attempt; each call doubles the one after, up to the cap (or the initial
  // delay, when that is larger).
  uint64_t next() {
    const uint64_t delay = next_ms_;
    next_ms_ = std::min(next_ms_ * 2, std::max(max_ms_, next_ms_));
    return delay;
  }

 private:
  uint64_t initial_ms_;
  uint64_t max_ms_;
  uint64_t next_ms_ = 0;
};

}  // namespace payhook::redis
