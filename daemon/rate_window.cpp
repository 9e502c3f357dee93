#include "daemon/rate_window.h"

namespace payhook::daemon {
namespace {

// A counter never shrinks, but a sample from the future (a clock step back) gives 0.
uint64_t growth(uint64_t now, uint64_t then) {
  return now > then ? now - then : 0;
}

double perMinute(uint64_t counted, int64_t elapsed_ms) {
  if (elapsed_ms <= 0) return 0;
  return static_cast<double>(counted) * 60'000.0 / static_cast<double>(elapsed_ms);
}

}  // namespace

void RateWindow::add(int64_t now_ms, const RateCounts& counts) {
  samples_.push_back({now_ms, counts});
  // One sample at least span_ms old is all rates() needs from the past.
  while (samples_.size() >= 2 && samples_[1].at_ms <= now_ms - span_ms_) samples_.pop_front();
  // A clock that jumps back would keep the queue growing; the newest samples are enough then.
  while (samples_.size() > 64) samples_.pop_front();
}

Rates RateWindow::rates(int64_t now_ms, const RateCounts& current) const {
  Rates r;
  if (samples_.empty()) {
    r.warming_up = true;
    return r;
  }
  const Sample* base = &samples_.front();
  for (const auto& s : samples_)
    if (s.at_ms <= now_ms - span_ms_) base = &s;
  r.window_ms = now_ms - base->at_ms;
  r.warming_up = r.window_ms < span_ms_;
  r.counted = {growth(current.callbacks, base->counts.callbacks),
               growth(current.deliveries, base->counts.deliveries),
               growth(current.failed_deliveries, base->counts.failed_deliveries)};
  r.callbacks = perMinute(r.counted.callbacks, r.window_ms);
  r.deliveries = perMinute(r.counted.deliveries, r.window_ms);
  r.failed_deliveries = perMinute(r.counted.failed_deliveries, r.window_ms);
  return r;
}

}  // namespace payhook::daemon
