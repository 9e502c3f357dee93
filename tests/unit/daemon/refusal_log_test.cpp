#include "daemon/refusal_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace payhook::daemon {
namespace {

using ::testing::IsEmpty;

int admitted(RefusalLog& log, std::string_view route, int n, int64_t now_ms) {
  int yes = 0;
  for (int i = 0; i < n; ++i) yes += log.admit(route, now_ms) ? 1 : 0;
  return yes;
}

TEST(RefusalLog, ABurstThenTheRatePerRoute) {
  RefusalLog log;
  log.setLimits({5, 20});
  EXPECT_EQ(admitted(log, "a", 1000, 1'000'000), 20);
  // Another route has a bucket of its own.
  EXPECT_EQ(admitted(log, "b", 3, 1'000'000), 3);
  // One second later: five more lines.
  EXPECT_EQ(admitted(log, "a", 1000, 1'001'000), 5);
  EXPECT_EQ(admitted(log, "a", 1, 1'001'100), 0);
}

TEST(RefusalLog, WhatWasNotLoggedIsSummedUpOnceAndTheBucketForgottenWhenFull) {
  RefusalLog log;
  log.setLimits({5, 20});
  EXPECT_EQ(admitted(log, "a", 1234, 1'000'000), 20);
  const auto first = log.summaries(1'010'000);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].route, "a");
  EXPECT_EQ(first[0].not_logged, 1214u);
  EXPECT_EQ(first[0].since_ms, 1'000'000);
  // Reported once; ten quiet seconds later the bucket is full again.
  EXPECT_THAT(log.summaries(1'020'000), IsEmpty());
  EXPECT_EQ(admitted(log, "a", 1000, 1'020'000), 20);
}

TEST(RefusalLog, ZeroPerSecondLogsEveryRefusal) {
  RefusalLog log;
  log.setLimits({0, 20});
  EXPECT_EQ(admitted(log, "a", 1000, 1'000'000), 1000);
  EXPECT_THAT(log.summaries(1'010'000), IsEmpty());
}

TEST(RefusalLog, AClockSteppedBackRefillsNothing) {
  RefusalLog log;
  log.setLimits({5, 2});
  EXPECT_EQ(admitted(log, "a", 5, 1'000'000), 2);
  EXPECT_EQ(admitted(log, "a", 5, 900'000), 0);
  EXPECT_EQ(admitted(log, "a", 5, 901'000), 2);
}

}  // namespace
}  // namespace payhook::daemon
