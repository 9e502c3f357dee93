// Polling and clock helpers for tests that watch payhookd work asynchronously (deliveries, retries).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>

namespace payhook::testing {

// Polls `cond` every 20 ms until it holds or `timeout_ms` passed; the last answer of `cond`.
inline bool waitFor(const std::function<bool()>& cond, int timeout_ms = 10'000) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

// Wall-clock Unix ms, the daemon's clock for attempt records and signatures.
inline int64_t unixNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline int64_t msBetween(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
}

}  // namespace payhook::testing
