#include "delivery/circuit_breaker.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace payhook::delivery {
namespace {

using State = CircuitBreaker::State;

constexpr int64_t kT0 = 1'700'000'000'000;

TEST(CircuitBreakerTest, ClosedAllowsAnyNumberAndCountsOnlyConsecutiveFailures) {
  CircuitBreaker b({3, 10'000});
  EXPECT_EQ(b.allowance(kT0), SIZE_MAX);
  EXPECT_FALSE(b.onResult(true, kT0));
  EXPECT_FALSE(b.onResult(true, kT0));
  EXPECT_FALSE(b.onResult(false, kT0));  // a success in between starts the count again
  EXPECT_EQ(b.consecutiveFailures(), 0u);
  EXPECT_FALSE(b.onResult(true, kT0));
  EXPECT_FALSE(b.onResult(true, kT0));
  EXPECT_EQ(b.state(), State::kClosed);
  EXPECT_TRUE(b.onResult(true, kT0 + 5));  // the third in a row opens it
  EXPECT_EQ(b.state(), State::kOpen);
}

TEST(CircuitBreakerTest, OpenAllowsNothingUntilTheCooldownThenOneProbeAtATime) {
  CircuitBreaker b({2, 10'000});
  b.onResult(true, kT0);
  b.onResult(true, kT0);
  ASSERT_EQ(b.state(), State::kOpen);
  EXPECT_EQ(b.allowance(kT0), 0u);
  EXPECT_EQ(b.allowance(kT0 + 9'999), 0u);
  EXPECT_EQ(b.allowance(kT0 + 10'000), 1u);
  EXPECT_EQ(b.state(), State::kHalfOpen);
  // Asked again before the probe starts (the claim found nothing): still one.
  EXPECT_EQ(b.allowance(kT0 + 10'001), 1u);
  b.onStart();
  EXPECT_EQ(b.allowance(kT0 + 10'002), 0u);  // the probe is in flight
}

TEST(CircuitBreakerTest, AFailedProbeWaitsAWholeCooldownAgain) {
  CircuitBreaker b({1, 1'000});
  b.onResult(true, kT0);
  ASSERT_EQ(b.allowance(kT0 + 1'000), 1u);
  b.onStart();
  EXPECT_TRUE(b.onResult(true, kT0 + 1'500));
  EXPECT_EQ(b.state(), State::kOpen);
  EXPECT_EQ(b.allowance(kT0 + 2'499), 0u);
  EXPECT_EQ(b.allowance(kT0 + 2'500), 1u);
}

TEST(CircuitBreakerTest, ASuccessfulProbeClosesIt) {
  CircuitBreaker b({1, 1'000});
  b.onResult(true, kT0);
  ASSERT_EQ(b.allowance(kT0 + 1'000), 1u);
  b.onStart();
  EXPECT_TRUE(b.onResult(false, kT0 + 1'100));
  EXPECT_EQ(b.state(), State::kClosed);
  EXPECT_EQ(b.allowance(kT0 + 1'100), SIZE_MAX);
}

TEST(CircuitBreakerTest, FailuresOfAttemptsInFlightWhenItOpenedDoNotExtendTheCooldown) {
  CircuitBreaker b({2, 1'000});
  b.onResult(true, kT0);
  b.onResult(true, kT0);
  EXPECT_FALSE(b.onResult(true, kT0 + 900));
  EXPECT_EQ(b.allowance(kT0 + 1'000), 1u);
}

TEST(CircuitBreakerTest, ZeroFailuresNeverOpens) {
  CircuitBreaker b({0, 1'000});
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(b.onResult(true, kT0));
  EXPECT_EQ(b.state(), State::kClosed);
  EXPECT_EQ(b.allowance(kT0), SIZE_MAX);
}

TEST(CircuitBreakerTest, WhatCountsAsAFailure) {
  EXPECT_TRUE(CircuitBreaker::isFailure(0));
  EXPECT_TRUE(CircuitBreaker::isFailure(500));
  EXPECT_TRUE(CircuitBreaker::isFailure(503));
  EXPECT_TRUE(CircuitBreaker::isFailure(429));
  EXPECT_FALSE(CircuitBreaker::isFailure(200));
  EXPECT_FALSE(CircuitBreaker::isFailure(204));
  EXPECT_FALSE(CircuitBreaker::isFailure(400));
  EXPECT_FALSE(CircuitBreaker::isFailure(410));
  EXPECT_STREQ(breakerStateName(State::kHalfOpen), "half_open");
}

}  // namespace
}  // namespace payhook::delivery
