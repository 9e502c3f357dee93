// Clock: wall time injected wherever timestamps or retries matter, so tests need no sleeping.
#pragma once

#include <chrono>
#include <cstdint>

namespace payhook {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch.
  virtual int64_t nowMs() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t nowMs() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t now_ms = 0) : now_ms_(now_ms) {}
  int64_t nowMs() const override { return now_ms_; }
  void set(int64_t now_ms) { now_ms_ = now_ms; }
  void advance(int64_t ms) { now_ms_ += ms; }

 private:
  int64_t now_ms_;
};

}  // namespace payhook
