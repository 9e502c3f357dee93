// When the reconciler asks a provider's status API again about an expected order, and when it gives up.
#include <gtest/gtest.h>

#include "delivery/reconciler.h"

namespace payhook::delivery {
namespace {

constexpr int64_t kDeadline = 1'000'000;

RetryPolicy policy() {
  RetryPolicy p;
  p.schedule_ms = {1'000, 60'000};
  p.max_interval_ms = 60'000;
  p.max_age_ms = 3'600'000;
  p.jitter = 0;
  return p;
}

TEST(ReconcilerNextPoll, PendingAnswersFollowTheScheduleFromTheDeadline) {
  FakeRandom rnd;
  auto first = nextPoll(policy(), 1, kDeadline, kDeadline + 10, 0, "", false, 0, rnd);
  EXPECT_TRUE(first.reason.empty());
  EXPECT_EQ(first.due_ms, kDeadline + 10 + 1'000);
  auto second = nextPoll(policy(), 2, kDeadline, kDeadline + 2'000, 200, "", false, 0, rnd);
  EXPECT_EQ(second.due_ms, kDeadline + 2'000 + 60'000);
  auto third = nextPoll(policy(), 3, kDeadline, kDeadline + 70'000, 0, "", false, 0, rnd);
  EXPECT_EQ(third.reason, "no final state: exhausted after 3 attempts");
}

TEST(ReconcilerNextPoll, MaxAgeCountsFromTheDeadline) {
  FakeRandom rnd;
  RetryPolicy p = policy();
  p.schedule_ms = {1'000, 1'000, 1'000};
  p.max_age_ms = 1'500;
  auto late = nextPoll(p, 1, kDeadline, kDeadline + 1'000, 0, "", false, 0, rnd);
  EXPECT_NE(late.reason.find("max_age"), std::string::npos) << late.reason;
}

TEST(ReconcilerNextPoll, ABusyApiIsAskedAgainWhenItSays) {
  FakeRandom rnd;
  auto busy = nextPoll(policy(), 1, kDeadline, kDeadline, 503, "30", false, 0, rnd);
  EXPECT_TRUE(busy.reason.empty());
  EXPECT_EQ(busy.due_ms, kDeadline + 30'000);
}

TEST(ReconcilerNextPoll, AHeldOrderIsAskedAboutUntilHoldDeadlineWhateverThePolicySays) {
  FakeRandom rnd;
  const uint64_t hold = 7ull * 86'400'000;
  auto held = nextPoll(policy(), 50, kDeadline, kDeadline + 86'400'000, 0, "", true, hold, rnd);
  EXPECT_TRUE(held.reason.empty());
  EXPECT_EQ(held.due_ms, kDeadline + 86'400'000 + 60'000);
  auto over =
      nextPoll(policy(), 51, kDeadline, kDeadline + static_cast<int64_t>(hold), 0, "", true, hold, rnd);
  EXPECT_EQ(over.reason, "still held at hold_deadline");
}

}  // namespace
}  // namespace payhook::delivery
