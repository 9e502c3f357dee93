// The systemd watchdog (WatchdogSec=): a timer on the daemon's own loop sends WATCHDOG=1 every half
// period, so the ping proves the loop itself runs; a loop stuck in a callback stops pinging and systemd
// kills and restarts the service. Harmless without systemd: it does nothing unless $WATCHDOG_USEC is set
// (and $WATCHDOG_PID, when present, names this process), the sd_watchdog_enabled() rule.
#pragma once

#include <uv.h>

#include <cstdint>

#include "uv/handle.h"

namespace payhook::daemon {

class Watchdog {
 public:
  explicit Watchdog(uv_loop_t* loop) : loop_(loop) {}

  // Reads the environment and, when the watchdog is on, sends a first ping and starts the timer (which
  // never keeps the loop alive by itself). Returns the ping interval in microseconds, 0 when off.
  uint64_t start();
  // Stops pinging; call once the loop is about to finish (systemd then only waits for the exit).
  void stop() { timer_.close(); }

  // The interval for a WATCHDOG_USEC value: half of it, as sd_watchdog_enabled(3) advises, never below
  // 1 ms. Exposed for tests.
  static uint64_t intervalUsec(uint64_t watchdog_usec);

 private:
  uv_loop_t* loop_;
  uv::Timer timer_;
};

}  // namespace payhook::daemon
