// A per-target circuit breaker for the delivery engine. After `failures` consecutive
// failed attempts the target is taken as down: no job of it is claimed for `cooldown_ms`, then one job at a
// time probes it, until an attempt succeeds. Jobs of an open target stay due in Redis; they are neither
// claimed nor charged an attempt, so an outage does not burn through the retry schedule.
//
// A failure is an attempt the target could not take: no answer (network error, timeout), 5xx or 429. Any
// other answer (2xx, and also 4xx) shows the target up and closes the breaker; a 4xx is about the event,
// not the target. Pure logic: the caller passes the loop's time in, so tests need no sleeping.
#pragma once

#include <cstddef>
#include <cstdint>

namespace payhook::delivery {

struct BreakerOptions {
  uint32_t failures = 5;          // consecutive failures that open it; 0: never opens
  uint64_t cooldown_ms = 30'000;  // open time before a probe
};

class CircuitBreaker {
 public:
  enum class State { kClosed, kOpen, kHalfOpen };

  explicit CircuitBreaker(BreakerOptions options = {}) : options_(options) {}

  // New attempts that may start at now_ms: unlimited (SIZE_MAX) when closed, none while open, one probe at a
  // time once the cooldown has passed (the breaker is then half-open).
  size_t allowance(int64_t now_ms);
  // An attempt started (the caller respected allowance()).
  void onStart();
  // An attempt ended. Returns true when the state changed, so the caller can log it.
  bool onResult(bool failure, int64_t now_ms);
  // Options after a reload; the state is kept.
  void setOptions(BreakerOptions options) { options_ = options; }

  State state() const { return state_; }
  uint32_t consecutiveFailures() const { return consecutive_; }

  // Whether an HTTP status (0: none) counts as a failure of the target.
  static bool isFailure(int status) { return status == 0 || status == 429 || status >= 500; }

 private:
  BreakerOptions options_;
  State state_ = State::kClosed;
  uint32_t consecutive_ = 0;
  int64_t opened_at_ms_ = 0;
  size_t probes_ = 0;  // attempts started while half-open and not yet ended
};

const char* breakerStateName(CircuitBreaker::State s);

}  // namespace payhook::delivery
