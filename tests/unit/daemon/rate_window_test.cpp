#include "daemon/rate_window.h"

#include <gtest/gtest.h>

namespace payhook::daemon {
namespace {

TEST(RateWindow, NothingSampledIsWarmingUpAtZero) {
  RateWindow w;
  const Rates r = w.rates(1'000, {5, 5, 5});
  EXPECT_TRUE(r.warming_up);
  EXPECT_EQ(r.callbacks, 0);
}

TEST(RateWindow, BeforeAMinuteTheRateIsScaledFromWhatThereIs) {
  RateWindow w;
  w.add(0, {0, 0, 0});
  w.add(10'000, {10, 4, 1});
  const Rates r = w.rates(20'000, {20, 8, 2});
  EXPECT_TRUE(r.warming_up);
  EXPECT_EQ(r.window_ms, 20'000);
  EXPECT_DOUBLE_EQ(r.callbacks, 60);  // 20 in 20 s
  EXPECT_DOUBLE_EQ(r.deliveries, 24);
  EXPECT_DOUBLE_EQ(r.failed_deliveries, 6);
  EXPECT_EQ(r.counted.callbacks, 20u);
  EXPECT_EQ(r.counted.deliveries, 8u);
  EXPECT_EQ(r.counted.failed_deliveries, 2u);
}

TEST(RateWindow, AfterAMinuteTheNewestSampleAMinuteOldIsTheBase) {
  RateWindow w;
  // 1 callback a second for 80 s, sampled every 10 s.
  for (int64_t t = 0; t <= 80'000; t += 10'000) w.add(t, {static_cast<uint64_t>(t / 1000), 0, 0});
  EXPECT_LE(w.samples(), 8u) << "only what the last minute needs is kept";
  const Rates r = w.rates(85'000, {85, 0, 0});
  EXPECT_FALSE(r.warming_up);
  EXPECT_EQ(r.window_ms, 65'000);  // the sample at 20 s
  EXPECT_DOUBLE_EQ(r.callbacks, 60);
}

TEST(RateWindow, ABurstLeavesTheRateOnceItIsAMinuteOld) {
  RateWindow w;
  w.add(0, {0, 0, 0});
  w.add(10'000, {600, 0, 0});  // a burst between 0 and 10 s
  for (int64_t t = 20'000; t <= 60'000; t += 10'000) w.add(t, {600, 0, 0});
  EXPECT_GT(w.rates(65'000, {600, 0, 0}).callbacks, 0) << "the base is the sample at 0 s";
  for (int64_t t = 70'000; t <= 90'000; t += 10'000) w.add(t, {600, 0, 0});
  EXPECT_DOUBLE_EQ(w.rates(90'000, {600, 0, 0}).callbacks, 0);
}

TEST(RateWindow, ACounterBelowItsSampleGivesZeroNotAHugeNumber) {
  RateWindow w;
  w.add(0, {100, 100, 100});
  const Rates r = w.rates(30'000, {50, 50, 50});
  EXPECT_EQ(r.callbacks, 0);
  EXPECT_EQ(r.deliveries, 0);
}

}  // namespace
}  // namespace payhook::daemon
