#include "daemon/watchdog.h"

#include <gtest/gtest.h>
#include <stdlib.h>

namespace payhook::daemon {
namespace {

TEST(WatchdogTest, PingsAtHalfThePeriod) {
  EXPECT_EQ(Watchdog::intervalUsec(30'000'000), 15'000'000u);
  EXPECT_EQ(Watchdog::intervalUsec(200'000), 100'000u);
  EXPECT_EQ(Watchdog::intervalUsec(10), 1000u);  // never a busy timer
}

TEST(WatchdogTest, OffWithoutSystemd) {
  ::unsetenv("WATCHDOG_USEC");
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  {
    Watchdog w(&loop);
    EXPECT_EQ(w.start(), 0u);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

TEST(WatchdogTest, TimerNeitherKeepsTheLoopAliveNorLeaks) {
  ::setenv("WATCHDOG_USEC", "200000", 1);
  ::unsetenv("WATCHDOG_PID");
  ::unsetenv("NOTIFY_SOCKET");  // sd_notify is then a no-op
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  {
    Watchdog w(&loop);
    EXPECT_EQ(w.start(), 100'000u);
    EXPECT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);  // returns at once: the timer is unreferenced
    w.stop();
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_EQ(uv_loop_close(&loop), 0);
  ::unsetenv("WATCHDOG_USEC");
}

}  // namespace
}  // namespace payhook::daemon
