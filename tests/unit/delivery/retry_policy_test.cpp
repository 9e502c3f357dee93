#include "delivery/retry_policy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <string>
#include <vector>

namespace payhook::delivery {
namespace {

using Kind = NextStep::Kind;

constexpr int64_t kSecond = 1'000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kHour = 60 * kMinute;
constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kI64Min = std::numeric_limits<int64_t>::min();

// 1994-11-06T08:49:37Z, RFC 9110's example date, in Unix ms.
constexpr int64_t kRfcExampleMs = 784'111'777 * kSecond;
// 2026-01-01T00:00:00Z.
constexpr int64_t k2026Ms = 1'767'225'600 * kSecond;

// The highest value uniform01() may return, which must reach the upper jitter bound.
const double kAlmostOne = std::nextafter(1.0, 0.0);

const std::vector<uint64_t> kSvix{5 * kSecond, 5 * kMinute, 30 * kMinute, 2 * kHour,
                                  5 * kHour,   10 * kHour,  10 * kHour};

RetryPolicy svix(double jitter) {
  RetryPolicy p;
  p.schedule_ms = kSvix;
  p.jitter = jitter;
  return p;
}

RetryPolicy exponential(uint64_t initial_ms, double multiplier, uint64_t max_interval_ms,
                        uint64_t max_attempts) {
  RetryPolicy p;
  p.exponential = true;
  p.schedule_ms.clear();
  p.initial_ms = initial_ms;
  p.multiplier = multiplier;
  p.max_interval_ms = max_interval_ms;
  p.max_attempts = max_attempts;
  p.max_age_ms = kU64Max;
  p.jitter = 0;
  return p;
}

AttemptResult status(int code, std::string retry_after = "") {
  return {code, std::move(retry_after)};
}

// --- the Svix schedule, attempt by attempt ---

TEST(RetryPolicy, DefaultMirrorsConfigSvixSchedule) {
  RetryPolicy p;
  EXPECT_EQ(p.schedule_ms, kSvix);
  EXPECT_FALSE(p.exponential);
  EXPECT_EQ(allowedAttempts(p), 8u);
  EXPECT_EQ(p.max_age_ms, uint64_t{72} * kHour);
}

TEST(RetryPolicy, SvixScheduleStepByStepWithoutJitter) {
  const RetryPolicy p = svix(0);
  FakeRandom rnd;
  const int64_t received = k2026Ms;
  int64_t now = received;  // the first attempt fails the moment the event arrives
  for (uint32_t attempt = 1; attempt <= kSvix.size(); ++attempt) {
    const NextStep step = nextStep(p, attempt, received, now, status(500), rnd);
    ASSERT_EQ(step.kind, Kind::kRetry) << "after attempt " << attempt;
    EXPECT_EQ(step.due_ms, now + static_cast<int64_t>(kSvix[attempt - 1])) << "after attempt " << attempt;
    EXPECT_EQ(step.reason, "HTTP 500");
    now = step.due_ms;  // the next attempt runs exactly when due and fails again
  }
  EXPECT_EQ(now - received, 27 * kHour + 35 * kMinute + 5 * kSecond);
  const NextStep last = nextStep(p, 8, received, now, status(500), rnd);
  EXPECT_EQ(last.kind, Kind::kDead);
  EXPECT_EQ(last.due_ms, 0);
  EXPECT_EQ(last.reason, "exhausted after 8 attempts");
}

TEST(RetryPolicy, SvixScheduleJitterLowerBound) {
  const RetryPolicy p = svix(0.1);
  FakeRandom rnd(0.0);
  const std::vector<uint64_t> low{4'500, 270'000, 1'620'000, 6'480'000, 16'200'000, 32'400'000, 32'400'000};
  for (uint32_t attempt = 1; attempt <= kSvix.size(); ++attempt) {
    EXPECT_EQ(delayFor(p, attempt, rnd), low[attempt - 1]) << "after attempt " << attempt;
    const NextStep step = nextStep(p, attempt, k2026Ms, k2026Ms, status(0), rnd);
    EXPECT_EQ(step.due_ms, k2026Ms + static_cast<int64_t>(low[attempt - 1]));
  }
}

TEST(RetryPolicy, SvixScheduleJitterUpperBoundIsCappedByMaxInterval) {
  const RetryPolicy p = svix(0.1);  // max_interval 10h, so the 10h steps cannot grow
  FakeRandom rnd(kAlmostOne);
  const std::vector<uint64_t> high{5'500, 330'000, 1'980'000, 7'920'000, 19'800'000, 36'000'000, 36'000'000};
  for (uint32_t attempt = 1; attempt <= kSvix.size(); ++attempt) {
    EXPECT_EQ(delayFor(p, attempt, rnd), high[attempt - 1]) << "after attempt " << attempt;
  }
}

TEST(RetryPolicy, JitterStaysWithinBoundsAcrossTheRange) {
  const RetryPolicy p = svix(0.1);
  FakeRandom rnd;
  for (double u = 0.0; u < 1.0; u += 0.01) {
    rnd.set(u);
    const uint64_t d = delayFor(p, 3, rnd);  // 30m ± 10%
    EXPECT_GE(d, 1'620'000u) << u;
    EXPECT_LE(d, 1'980'000u) << u;
  }
  rnd.set(0.5);
  EXPECT_EQ(delayFor(p, 3, rnd), 1'800'000u);  // the middle of the range is the configured delay
}

TEST(RetryPolicy, FullJitterNeverNegativeAndOutOfRangeInputsClamped) {
  RetryPolicy p = svix(1.0);
  FakeRandom rnd(0.0);
  EXPECT_EQ(delayFor(p, 1, rnd), 0u);
  rnd.set(kAlmostOne);
  EXPECT_EQ(delayFor(p, 1, rnd), 10'000u);
  // A misbehaving source: negative, above 1, NaN.
  rnd.set(-3.0);
  EXPECT_EQ(delayFor(p, 1, rnd), 0u);
  rnd.set(7.0);
  EXPECT_EQ(delayFor(p, 1, rnd), 10'000u);
  rnd.set(std::nan(""));
  EXPECT_EQ(delayFor(p, 1, rnd), 5'000u);
  // Jitter outside [0, 1] (config refuses it; the maths must still hold).
  p.jitter = 5.0;
  rnd.set(0.0);
  EXPECT_EQ(delayFor(p, 1, rnd), 0u);
  p.jitter = -1.0;
  EXPECT_EQ(delayFor(p, 1, rnd), 5'000u);
  p.jitter = std::nan("");
  EXPECT_EQ(delayFor(p, 1, rnd), 5'000u);
}

TEST(RetryPolicy, ScheduleDelaysAreCappedByMaxInterval) {
  RetryPolicy p = svix(0);
  p.max_interval_ms = kHour;
  FakeRandom rnd;
  EXPECT_EQ(delayFor(p, 3, rnd), uint64_t(30 * kMinute));
  EXPECT_EQ(delayFor(p, 4, rnd), uint64_t(kHour));
  EXPECT_EQ(delayFor(p, 7, rnd), uint64_t(kHour));
}

TEST(RetryPolicy, ScheduleOutOfRangeAttemptsUseEndEntries) {
  const RetryPolicy p = svix(0);
  FakeRandom rnd;
  EXPECT_EQ(delayFor(p, 0, rnd), uint64_t(5 * kSecond));  // 0 is taken as 1
  EXPECT_EQ(delayFor(p, 100, rnd), uint64_t(10 * kHour));
  EXPECT_EQ(nextStep(p, 0, 0, 0, status(500), rnd).due_ms, 5 * kSecond);
}

TEST(RetryPolicy, EmptyScheduleAllowsOneAttempt) {
  RetryPolicy p;
  p.schedule_ms.clear();
  FakeRandom rnd;
  EXPECT_EQ(allowedAttempts(p), 1u);
  const NextStep step = nextStep(p, 1, 0, 0, status(500), rnd);
  EXPECT_EQ(step.kind, Kind::kDead);
  EXPECT_EQ(step.reason, "exhausted after 1 attempt");
}

// --- exponential ---

TEST(RetryPolicy, ExponentialGrowsThenCaps) {
  const RetryPolicy p = exponential(1'000, 2.0, 60'000, 20);
  FakeRandom rnd;
  const std::vector<uint64_t> want{1'000, 2'000, 4'000, 8'000, 16'000, 32'000, 60'000, 60'000};
  for (uint32_t attempt = 1; attempt <= want.size(); ++attempt) {
    EXPECT_EQ(delayFor(p, attempt, rnd), want[attempt - 1]) << "after attempt " << attempt;
  }
}

TEST(RetryPolicy, ExponentialDefaultsStepByStep) {
  RetryPolicy p;
  p.exponential = true;
  p.schedule_ms.clear();
  p.jitter = 0;
  FakeRandom rnd;
  int64_t now = 0;
  for (uint32_t attempt = 1; attempt < 8; ++attempt) {
    const NextStep step = nextStep(p, attempt, 0, now, status(502), rnd);
    ASSERT_EQ(step.kind, Kind::kRetry) << attempt;
    EXPECT_EQ(step.due_ms - now, 5'000 << (attempt - 1)) << attempt;
    now = step.due_ms;
  }
  EXPECT_EQ(nextStep(p, 8, 0, now, status(502), rnd).reason, "exhausted after 8 attempts");
}

TEST(RetryPolicy, ExponentialNonIntegerMultiplierRounds) {
  const RetryPolicy p = exponential(1'000, 1.5, kU64Max, 10);
  FakeRandom rnd;
  EXPECT_EQ(delayFor(p, 1, rnd), 1'000u);
  EXPECT_EQ(delayFor(p, 2, rnd), 1'500u);
  EXPECT_EQ(delayFor(p, 3, rnd), 2'250u);
  EXPECT_EQ(delayFor(p, 4, rnd), 3'375u);
  EXPECT_EQ(delayFor(p, 5, rnd), 5'063u);  // 5062.5 rounds up
}

TEST(RetryPolicy, ExponentialNeverOverflows) {
  FakeRandom rnd(kAlmostOne);
  RetryPolicy p = exponential(5'000, 2.0, 36'000'000, kU64Max);
  EXPECT_EQ(delayFor(p, 61, rnd), 36'000'000u);  // 5000 * 2^60 ≈ 5.8e21
  EXPECT_EQ(delayFor(p, std::numeric_limits<uint32_t>::max(), rnd), 36'000'000u);
  p.multiplier = 1e308;  // infinity after one step
  EXPECT_EQ(delayFor(p, 3, rnd), 36'000'000u);
  p.multiplier = std::nan("");
  EXPECT_EQ(delayFor(p, 3, rnd), 36'000'000u);
  // No cap at all: the largest delay is the largest integer, not a wrapped one.
  p = exponential(5'000, 2.0, kU64Max, kU64Max);
  p.jitter = 0.1;
  EXPECT_EQ(delayFor(p, 61, rnd), kU64Max);
  EXPECT_EQ(delayFor(p, 1, rnd), 5'500u);
  // Such a delay saturates the due time and runs into max_age instead of wrapping into the past.
  p.max_age_ms = 72 * kHour;
  const NextStep step = nextStep(p, 61, 0, 0, status(500), rnd);
  EXPECT_EQ(step.kind, Kind::kDead);
  EXPECT_EQ(step.reason, "max_age 72h exceeded");
}

// --- attempt and age limits ---

TEST(RetryPolicy, MaxAttemptsBoundary) {
  RetryPolicy p = exponential(1'000, 2.0, 60'000, 3);
  FakeRandom rnd;
  EXPECT_EQ(allowedAttempts(p), 3u);
  EXPECT_EQ(nextStep(p, 2, 0, 0, status(500), rnd).kind, Kind::kRetry);
  const NextStep dead = nextStep(p, 3, 0, 0, status(500), rnd);
  EXPECT_EQ(dead.kind, Kind::kDead);
  EXPECT_EQ(dead.reason, "exhausted after 3 attempts");
  EXPECT_EQ(nextStep(p, 4, 0, 0, status(500), rnd).reason, "exhausted after 4 attempts");
  p.max_attempts = 1;
  EXPECT_EQ(nextStep(p, 1, 0, 0, status(0), rnd).reason, "exhausted after 1 attempt");
  p.max_attempts = 0;  // config refuses it; still one attempt, never a retry
  EXPECT_EQ(allowedAttempts(p), 1u);
  EXPECT_EQ(nextStep(p, 1, 0, 0, status(0), rnd).kind, Kind::kDead);
}

TEST(RetryPolicy, ExhaustionWinsOverRetryAfter) {
  const RetryPolicy p = svix(0);
  FakeRandom rnd;
  EXPECT_EQ(nextStep(p, 8, 0, 0, status(429, "1"), rnd).reason, "exhausted after 8 attempts");
}

TEST(RetryPolicy, MaxAgeBoundaryIsInclusive) {
  RetryPolicy p = svix(0);
  p.schedule_ms = {1'000};
  p.max_age_ms = 1'500;
  FakeRandom rnd;
  const int64_t received = k2026Ms;
  // Due exactly at received + max_age: allowed.
  NextStep step = nextStep(p, 1, received, received + 500, status(500), rnd);
  EXPECT_EQ(step.kind, Kind::kRetry);
  EXPECT_EQ(step.due_ms, received + 1'500);
  // One millisecond later: dead.
  step = nextStep(p, 1, received, received + 501, status(500), rnd);
  EXPECT_EQ(step.kind, Kind::kDead);
  EXPECT_EQ(step.due_ms, 0);
  EXPECT_EQ(step.reason, "max_age 1500ms exceeded");
}

TEST(RetryPolicy, MaxAgeAppliesToJitteredDelay) {
  RetryPolicy p = svix(0.1);
  p.schedule_ms = {10'000};
  p.max_age_ms = 10'000;
  FakeRandom rnd(0.0);  // 9s: fits
  EXPECT_EQ(nextStep(p, 1, 0, 0, status(500), rnd).kind, Kind::kRetry);
  rnd.set(kAlmostOne);  // 11s: past max_age
  EXPECT_EQ(nextStep(p, 1, 0, 0, status(500), rnd).kind, Kind::kDead);
}

TEST(RetryPolicy, MaxAgeReasonUsesConfigUnits) {
  const RetryPolicy p = svix(0);
  FakeRandom rnd;
  // Attempt 5 fails 71h after receipt; the next delay (5h) would end past 72h.
  const NextStep step = nextStep(p, 5, 0, 71 * kHour, status(500), rnd);
  EXPECT_EQ(step.kind, Kind::kDead);
  EXPECT_EQ(step.reason, "max_age 72h exceeded");
  RetryPolicy q = p;
  q.max_age_ms = 90 * kMinute;
  EXPECT_EQ(nextStep(q, 5, 0, 0, status(500), rnd).reason, "max_age 90m exceeded");
  q.max_age_ms = 45 * kSecond;
  EXPECT_EQ(nextStep(q, 5, 0, 0, status(500), rnd).reason, "max_age 45s exceeded");
}

TEST(RetryPolicy, ExtremeTimesSaturate) {
  RetryPolicy p = svix(0);
  FakeRandom rnd;
  p.max_age_ms = kU64Max;
  // received_at + max_age saturates; now + delay saturates at the same value and is still "on the boundary".
  NextStep step = nextStep(p, 1, kI64Max - 1, kI64Max - 1, status(500), rnd);
  EXPECT_EQ(step.kind, Kind::kRetry);
  EXPECT_EQ(step.due_ms, kI64Max);
  step = nextStep(p, 1, kI64Min, kI64Min, status(500), rnd);
  EXPECT_EQ(step.kind, Kind::kRetry);
  EXPECT_EQ(step.due_ms, kI64Min + 5'000);
}

// --- statuses ---

TEST(RetryPolicy, TwoHundredsAreDelivered) {
  const RetryPolicy p = svix(0.1);
  FakeRandom rnd;
  for (int code : {200, 201, 202, 204, 299}) {
    const NextStep step = nextStep(p, 1, 0, 0, status(code), rnd);
    EXPECT_EQ(step.kind, Kind::kDelivered) << code;
    EXPECT_EQ(step.due_ms, 0) << code;
    EXPECT_EQ(step.reason, "HTTP " + std::to_string(code));
  }
  // Delivered even on the last allowed attempt and past max_age: the app has it.
  EXPECT_EQ(nextStep(p, 8, 0, 100 * kHour, status(200), rnd).kind, Kind::kDelivered);
}

TEST(RetryPolicy, GoneIsDeadAtOnce) {
  const RetryPolicy p = svix(0.1);
  FakeRandom rnd;
  const NextStep step = nextStep(p, 1, 0, 0, status(410, "120"), rnd);
  EXPECT_EQ(step.kind, Kind::kDead);
  EXPECT_EQ(step.due_ms, 0);
  EXPECT_EQ(step.reason, "gone (410)");
}

TEST(RetryPolicy, OtherStatusesAndNetworkErrorsRetry) {
  const RetryPolicy p = svix(0);
  FakeRandom rnd;
  for (int code : {100, 199, 300, 302, 304, 400, 401, 404, 409, 429, 499, 500, 502, 503, 504, 599, 999, -1}) {
    const NextStep step = nextStep(p, 1, 0, 0, status(code), rnd);
    EXPECT_EQ(step.kind, Kind::kRetry) << code;
    EXPECT_EQ(step.due_ms, 5'000) << code;
    EXPECT_EQ(step.reason, "HTTP " + std::to_string(code));
  }
  const NextStep network = nextStep(p, 1, 0, 0, status(0), rnd);
  EXPECT_EQ(network.kind, Kind::kRetry);
  EXPECT_EQ(network.due_ms, 5'000);
  EXPECT_EQ(network.reason, "timeout/network error");
}

// --- Retry-After in nextStep ---

TEST(RetryPolicy, TooManyRequestsAndUnavailableHonourRetryAfterSeconds) {
  const RetryPolicy p = svix(0.1);
  FakeRandom rnd(kAlmostOne);  // would stretch the policy's delay; Retry-After is not jittered
  for (int code : {429, 503}) {
    const NextStep step = nextStep(p, 1, k2026Ms, k2026Ms, status(code, "120"), rnd);
    EXPECT_EQ(step.kind, Kind::kRetry) << code;
    EXPECT_EQ(step.due_ms, k2026Ms + 120 * kSecond) << code;
    EXPECT_EQ(step.reason, "HTTP " + std::to_string(code));
  }
}

TEST(RetryPolicy, RetryAfterShorterThanPolicyIsHonoured) {
  const RetryPolicy p = svix(0);
  FakeRandom rnd;
  EXPECT_EQ(nextStep(p, 4, 0, 1'000, status(429, "0"), rnd).due_ms, 1'000);  // retry now
  EXPECT_EQ(nextStep(p, 4, 0, 1'000, status(503, "3"), rnd).due_ms, 4'000);
}

TEST(RetryPolicy, RetryAfterHttpDateInNextStep) {
  const RetryPolicy p = svix(0);
  FakeRandom rnd;
  const int64_t now = kRfcExampleMs - 90 * kSecond;
  EXPECT_EQ(nextStep(p, 1, now, now, status(503, "Sun, 06 Nov 1994 08:49:37 GMT"), rnd).due_ms,
            kRfcExampleMs);
  // A date in the past: retry now.
  const int64_t later = kRfcExampleMs + kHour;
  EXPECT_EQ(nextStep(p, 1, later, later, status(429, "Sun, 06 Nov 1994 08:49:37 GMT"), rnd).due_ms, later);
}

TEST(RetryPolicy, RetryAfterIgnoredForOtherStatuses) {
  const RetryPolicy p = svix(0);
  FakeRandom rnd;
  for (int code : {500, 502, 404, 0}) {
    EXPECT_EQ(nextStep(p, 1, 0, 0, status(code, "120"), rnd).due_ms, 5'000) << code;
  }
}

TEST(RetryPolicy, UnusableRetryAfterFallsBackToPolicy) {
  const RetryPolicy p = svix(0);
  FakeRandom rnd;
  for (const char* value : {"", "soon", "-5", "1.5", "120s", "Sun, 06 Nov 1994", "\x01\xff"}) {
    EXPECT_EQ(nextStep(p, 2, 0, 0, status(429, value), rnd).due_ms, 5 * kMinute) << value;
  }
}

TEST(RetryPolicy, HugeRetryAfterIsCappedByMaxInterval) {
  RetryPolicy p = svix(0);
  FakeRandom rnd;
  for (const char* value : {"99999999", "999999999999999999999999999999", "Fri, 31 Dec 9999 23:59:59 GMT"}) {
    const NextStep step = nextStep(p, 1, k2026Ms, k2026Ms, status(503, value), rnd);
    EXPECT_EQ(step.kind, Kind::kRetry) << value;
    EXPECT_EQ(step.due_ms, k2026Ms + 10 * kHour) << value;
  }
  p.max_interval_ms = kMinute;
  EXPECT_EQ(nextStep(p, 1, 0, 0, status(429, "3600"), rnd).due_ms, kMinute);
}

TEST(RetryPolicy, RetryAfterPastMaxAgeIsDead) {
  RetryPolicy p = svix(0);
  p.max_age_ms = kHour;
  FakeRandom rnd;
  const NextStep step = nextStep(p, 1, 0, 59 * kMinute, status(429, "120"), rnd);
  EXPECT_EQ(step.kind, Kind::kDead);
  EXPECT_EQ(step.reason, "max_age 1h exceeded");
}

// --- parseRetryAfter ---

TEST(ParseRetryAfter, DeltaSeconds) {
  EXPECT_EQ(parseRetryAfter("120", 0), 120'000u);
  EXPECT_EQ(parseRetryAfter("0", 12345), 0u);
  EXPECT_EQ(parseRetryAfter("007", 0), 7'000u);
  EXPECT_EQ(parseRetryAfter(" \t120 \t", 0), 120'000u);  // optional white space around the value
  EXPECT_EQ(parseRetryAfter("120", kI64Min), 120'000u);  // seconds do not depend on now
}

TEST(ParseRetryAfter, HugeDeltaSecondsSaturate) {
  EXPECT_EQ(parseRetryAfter("18446744073709551", 0),
            18'446'744'073'709'551'000u);                          // the last that fits
  EXPECT_EQ(parseRetryAfter("18446744073709552", 0), kU64Max);     // fits as seconds, not as ms
  EXPECT_EQ(parseRetryAfter("18446744073709551616", 0), kU64Max);  // 2^64 seconds
  EXPECT_EQ(parseRetryAfter(std::string(500, '9'), 0), kU64Max);
}

TEST(ParseRetryAfter, ImfFixdate) {
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", kRfcExampleMs - kHour), uint64_t(kHour));
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", kRfcExampleMs - 1), 1u);
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", kRfcExampleMs), 0u);
  EXPECT_EQ(parseRetryAfter("Thu, 29 Feb 2024 12:00:00 GMT", 1'709'208'000 * kSecond - 5 * kSecond), 5'000u);
  EXPECT_EQ(parseRetryAfter("Thu, 01 Jan 2026 00:00:30 GMT", k2026Ms), 30'000u);
}

TEST(ParseRetryAfter, Rfc850WithTwoDigitYear) {
  EXPECT_EQ(parseRetryAfter("Sunday, 06-Nov-94 08:49:37 GMT", kRfcExampleMs - kHour), uint64_t(kHour));
  // Seen from 2026: "76" is 2076 (exactly 50 years ahead is still ahead), "77" is 1977 (in the past).
  EXPECT_EQ(parseRetryAfter("Wednesday, 01-Jan-76 00:00:00 GMT", k2026Ms),
            uint64_t(3'345'062'400 * kSecond - k2026Ms));
  EXPECT_EQ(parseRetryAfter("Saturday, 01-Jan-77 00:00:00 GMT", k2026Ms), 0u);
  EXPECT_EQ(parseRetryAfter("Thursday, 01-Jan-26 00:00:10 GMT", k2026Ms), 10'000u);
  // "94" seen from 2026 is 1994, long past.
  EXPECT_EQ(parseRetryAfter("Sunday, 06-Nov-94 08:49:37 GMT", k2026Ms), 0u);
}

TEST(ParseRetryAfter, Asctime) {
  EXPECT_EQ(parseRetryAfter("Sun Nov  6 08:49:37 1994", kRfcExampleMs - kHour), uint64_t(kHour));
  EXPECT_EQ(parseRetryAfter("Wed Nov 16 08:49:37 1994", kRfcExampleMs), uint64_t(10 * 24 * kHour));
  EXPECT_EQ(parseRetryAfter("Sun Nov 6 08:49:37 1994", kRfcExampleMs - kHour), uint64_t(kHour));  // unpadded
}

TEST(ParseRetryAfter, AllThreeFormsAgree) {
  const int64_t now = kRfcExampleMs - 42 * kSecond;
  for (const char* value :
       {"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"}) {
    EXPECT_EQ(parseRetryAfter(value, now), 42'000u) << value;
  }
}

TEST(ParseRetryAfter, PastDatesAreZero) {
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", k2026Ms), 0u);
  EXPECT_EQ(parseRetryAfter("Sun Nov  6 08:49:37 1994", k2026Ms), 0u);
  EXPECT_EQ(parseRetryAfter("Mon, 01 Jan 0001 00:00:00 GMT", k2026Ms), 0u);
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", kI64Max), 0u);
}

TEST(ParseRetryAfter, NamesAreCaseInsensitiveAndWeekdayIsNotChecked) {
  EXPECT_EQ(parseRetryAfter("sun, 06 nov 1994 08:49:37 gmt", kRfcExampleMs - 1), 1u);
  EXPECT_EQ(parseRetryAfter("SUNDAY, 06-NOV-94 08:49:37 GMT", kRfcExampleMs - 1), 1u);
  EXPECT_EQ(parseRetryAfter("Mon, 06 Nov 1994 08:49:37 GMT", kRfcExampleMs - 1), 1u);  // wrong weekday
}

TEST(ParseRetryAfter, ExtremeNowDoesNotOverflow) {
  EXPECT_EQ(parseRetryAfter("Fri, 31 Dec 9999 23:59:59 GMT", kI64Min),
            static_cast<uint64_t>(253'402'300'799'000) + static_cast<uint64_t>(kI64Max) + 1);
  EXPECT_EQ(parseRetryAfter("Saturday, 01-Jan-00 00:00:00 GMT", kI64Max), 0u);
  EXPECT_TRUE(parseRetryAfter("Saturday, 01-Jan-00 00:00:00 GMT", kI64Min).has_value());
}

TEST(ParseRetryAfter, GarbageIsRejected) {
  for (const char* value : {
           "",
           " ",
           "soon",
           "-1",
           "+5",
           "1.5",
           "1e3",
           "12 34",
           "0x10",
           "120s",
           "Sun, 06 Nov 1994 08:49:37 UTC",    // only GMT
           "Sun, 06 Nov 1994 08:49:37 GMT x",  // trailing junk
           "Sun, 06 Nov 1994 08:49:37GMT",
           "Sun, 06 Nov 1994 08:49 GMT",
           "Sun, 06 Nov 94 08:49:37 GMT",       // two-digit year in the IMF form
           "Sunday, 06-Nov-1994 08:49:37 GMT",  // four-digit year in the RFC 850 form
           "Sun, 06 Foo 1994 08:49:37 GMT",
           "Xyz, 06 Nov 1994 08:49:37 GMT",
           "Sun 06 Nov 1994 08:49:37 GMT",
           "Sun,06 Nov 1994 08:49:37 GMT",
           "Sun, 31 Nov 1994 08:49:37 GMT",  // no such day
           "Thu, 29 Feb 2023 12:00:00 GMT",  // not a leap year
           "Mon, 29 Feb 1900 12:00:00 GMT",  // century, not a leap year
           "Sun, 00 Nov 1994 08:49:37 GMT",
           "Sun, 06 Nov 1994 24:00:00 GMT",
           "Sun, 06 Nov 1994 08:60:00 GMT",
           "Sun, 06 Nov 1994 08:49:61 GMT",
           "Sun, 06 Nov 1994 8:49:37 GMT",
           "Sun Nov  6 08:49:37 1994 GMT",
           "Sun Nov   6 08:49:37 1994",
           "Sun Nov  16 08:49:37 1994",
           "Sun Nov  6 08:49:37 94",
           "2026-01-01T00:00:00Z",
       }) {
    EXPECT_EQ(parseRetryAfter(value, k2026Ms), std::nullopt) << '"' << value << '"';
  }
  EXPECT_EQ(parseRetryAfter(std::string_view("12\0"
                                             "3",
                                             4),
                            0),
            std::nullopt);
  EXPECT_EQ(parseRetryAfter(std::string_view("Sun, 06 Nov 1994 08:49:37 GMT\0", 30), 0), std::nullopt);
}

TEST(ParseRetryAfter, EveryPrefixOfAValidDateIsRejected) {
  for (std::string_view full :
       {"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"}) {
    ASSERT_TRUE(parseRetryAfter(full, 0).has_value()) << full;
    for (size_t n = 0; n < full.size(); ++n) {
      EXPECT_EQ(parseRetryAfter(full.substr(0, n), 0), std::nullopt) << '"' << full.substr(0, n) << '"';
    }
  }
}

TEST(ParseRetryAfter, IndependentOfProcessTimeZone) {
  // The parser must not consult TZ; a test may change it, as long as it puts it back.
  const char* old = std::getenv("TZ");
  const std::string saved = old ? old : "";
  ::setenv("TZ", "America/New_York", 1);
  ::tzset();
  const auto in_new_york = parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", kRfcExampleMs - kHour);
  if (old) {
    ::setenv("TZ", saved.c_str(), 1);
  } else {
    ::unsetenv("TZ");
  }
  ::tzset();
  EXPECT_EQ(in_new_york, uint64_t(kHour));
}

// --- SodiumRandom ---

TEST(SodiumRandom, StaysInUnitIntervalAndVaries) {
  SodiumRandom rnd;
  double lowest = 1.0;
  double highest = 0.0;
  for (int i = 0; i < 2'000; ++i) {
    const double u = rnd.uniform01();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    lowest = std::min(lowest, u);
    highest = std::max(highest, u);
  }
  // 2000 uniform draws all inside a band narrower than 0.5 has probability ~2^-1999.
  EXPECT_GT(highest - lowest, 0.5);
}

TEST(SodiumRandom, JitterFromSodiumStaysInBounds) {
  SodiumRandom rnd;
  const RetryPolicy p = svix(0.1);
  for (int i = 0; i < 500; ++i) {
    const uint64_t d = delayFor(p, 2, rnd);  // 5m ± 10%
    ASSERT_GE(d, 270'000u);
    ASSERT_LE(d, 330'000u);
  }
}

}  // namespace
}  // namespace payhook::delivery
