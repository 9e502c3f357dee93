#include "daemon/watchdog.h"

#include <systemd/sd-daemon.h>

#include <algorithm>

#include "common/log.h"

namespace payhook::daemon {

uint64_t Watchdog::intervalUsec(uint64_t watchdog_usec) {
  return std::max<uint64_t>(watchdog_usec / 2, 1000);
}

uint64_t Watchdog::start() {
  uint64_t usec = 0;
  // 0 keeps the variables: a child the daemon might start must not think the watchdog is its own, and
  // WATCHDOG_PID already rules that out.
  const int enabled = sd_watchdog_enabled(0, &usec);
  if (enabled < 0) {
    log::warn("systemd watchdog: WATCHDOG_USEC is invalid; not pinging", {{"error", enabled}});
    return 0;
  }
  if (enabled == 0 || usec == 0) return 0;
  const uint64_t interval = intervalUsec(usec);
  timer_ = uv::Timer(loop_);
  // Pinging from a timer of this loop, not from a thread, is the point: the ping says the loop turns.
  timer_.start(
      interval / 1000, [] { sd_notify(0, "WATCHDOG=1"); }, interval / 1000);
  timer_.unref();
  sd_notify(0, "WATCHDOG=1");
  log::info("systemd watchdog on", {{"ping_ms", static_cast<int64_t>(interval / 1000)}});
  return interval;
}

}  // namespace payhook::daemon
