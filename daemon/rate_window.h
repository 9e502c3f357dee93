// RateWindow: per-minute rates of the daemon's counters for the queue page (GET /v1/live), from samples a
// timer takes every few seconds. A rate is the counters now less the newest sample at least a minute old,
// scaled to a minute; before the daemon has run a minute it is scaled from what there is, and says so.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

namespace payhook::daemon {

struct RateCounts {
  uint64_t callbacks = 0;          // callbacks answered, whatever the outcome
  uint64_t deliveries = 0;         // attempts the target accepted
  uint64_t failed_deliveries = 0;  // attempts retried later or given up
};

struct Rates {
  double callbacks = 0;
  double deliveries = 0;
  double failed_deliveries = 0;
  RateCounts counted;       // the counters' growth over the window, unscaled
  int64_t window_ms = 0;    // what the rates were measured over
  bool warming_up = false;  // less than a minute of samples: scaled up from window_ms
};

class RateWindow {
 public:
  explicit RateWindow(int64_t span_ms = 60'000) : span_ms_(span_ms) {}
  void add(int64_t now_ms, const RateCounts& counts);
  Rates rates(int64_t now_ms, const RateCounts& current) const;
  size_t samples() const { return samples_.size(); }

 private:
  struct Sample {
    int64_t at_ms = 0;
    RateCounts counts;
  };
  int64_t span_ms_;
  std::deque<Sample> samples_;  // oldest first; at most one older than the span
};

}  // namespace payhook::daemon
