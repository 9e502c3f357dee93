#include "delivery/circuit_breaker.h"

#include <cstdint>

namespace payhook::delivery {

size_t CircuitBreaker::allowance(int64_t now_ms) {
  switch (state_) {
    case State::kClosed:
      return SIZE_MAX;
    case State::kOpen:
      if (now_ms - opened_at_ms_ < static_cast<int64_t>(options_.cooldown_ms)) return 0;
      state_ = State::kHalfOpen;
      probes_ = 0;
      return 1;
    case State::kHalfOpen:
      return probes_ == 0 ? 1 : 0;
  }
  return 0;
}

void CircuitBreaker::onStart() {
  if (state_ == State::kHalfOpen) ++probes_;
}

bool CircuitBreaker::onResult(bool failure, int64_t now_ms) {
  const State before = state_;
  if (state_ == State::kHalfOpen && probes_ > 0) --probes_;
  if (!failure) {
    consecutive_ = 0;
    state_ = State::kClosed;
    return state_ != before;
  }
  if (consecutive_ < UINT32_MAX) ++consecutive_;
  if (options_.failures == 0) return false;
  if (state_ == State::kHalfOpen || (state_ == State::kClosed && consecutive_ >= options_.failures)) {
    // A failed probe waits a whole cooldown again; failures of attempts that were already in flight
    // when it opened do not extend it.
    state_ = State::kOpen;
    opened_at_ms_ = now_ms;
  }
  return state_ != before;
}

const char* breakerStateName(CircuitBreaker::State s) {
  switch (s) {
    case CircuitBreaker::State::kClosed:
      return "closed";
    case CircuitBreaker::State::kOpen:
      return "open";
    case CircuitBreaker::State::kHalfOpen:
      return "half_open";
  }
  return "closed";
}

}  // namespace payhook::delivery
