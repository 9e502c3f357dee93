// Retry policy: what happens to a delivery job after one attempt (README "Delivery: what the shop's apps
// receive"). Pure functions of (policy, attempt count, times, answer, randomness): no I/O and no clock
// reads, so the scheduler passes the loop's time in and tests need no sleeping.
//
// queue/ may not include config/, so RetryPolicy mirrors config::RetryPolicy field for field; the daemon
// copies one into the other.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace payhook::delivery {

struct RetryPolicy {
  // Explicit delays before attempt 2, 3, ...; empty when exponential. The default is Svix's schedule, the
  // same as config::RetryPolicy's, so a default-constructed policy retries rather than giving up after one
  // attempt.
  std::vector<uint64_t> schedule_ms{5'000, 300'000, 1'800'000, 7'200'000, 18'000'000, 36'000'000, 36'000'000};
  bool exponential = false;
  uint64_t initial_ms = 5'000;
  double multiplier = 2.0;
  uint64_t max_interval_ms = 36'000'000;  // caps every delay: schedule, exponential, jitter and Retry-After
  uint64_t max_attempts = 8;  // exponential only; a schedule allows schedule_ms.size() + 1 attempts
  uint64_t max_age_ms = 72ull * 3'600'000;  // measured from the event's received_at
  double jitter = 0.1;                      // ± fraction of each delay, 0 to 1
};

// A source of uniform numbers in [0, 1), injected so tests can pin jitter to its bounds.
class Random {
 public:
  virtual ~Random() = default;
  virtual double uniform01() = 0;
};

// libsodium's CSPRNG (randombytes_uniform), so jitter differs between instances sharing one Redis. Safe to
// use from any thread; calls sodium_init() itself.
class SodiumRandom final : public Random {
 public:
  SodiumRandom();
  double uniform01() override;
};

// Returns the value given (0 and std::nextafter(1.0, 0.0) reach the jitter bounds).
class FakeRandom final : public Random {
 public:
  explicit FakeRandom(double value = 0.5) : value_(value) {}
  double uniform01() override { return value_; }
  void set(double value) { value_ = value; }

 private:
  double value_;
};

// One finished attempt as the HTTP client saw it.
struct AttemptResult {
  int status = 0;           // HTTP status; 0 = network error or timeout
  std::string retry_after;  // the Retry-After header's value, empty when absent
};

struct NextStep {
  enum class Kind { kDelivered, kRetry, kDead };
  Kind kind = Kind::kRetry;
  int64_t due_ms = 0;  // kRetry: when the next attempt is due (Unix ms); 0 otherwise
  // A short string for operators: "HTTP 200", "HTTP 500", "timeout/network error" (kDelivered, kRetry: the
  // attempt's outcome); "gone (410)", "exhausted after 8 attempts", "max_age 72h exceeded" (kDead).
  std::string reason;
};

// How many attempts the policy allows in all: max_attempts when exponential (at least 1), otherwise
// schedule_ms.size() + 1.
uint64_t allowedAttempts(const RetryPolicy& p);

// The decision after an attempt. attempts_made counts attempts including the one just finished (0 is taken
// as 1); received_at_ms is the event's receipt time and now_ms the time the attempt finished.
//   2xx → kDelivered. 410 → kDead at once. attempts_made >= allowedAttempts() → kDead.
//   Otherwise the delay is delayFor(), or for 429/503 with a parseable Retry-After that value (no jitter:
//   the server named a time) capped by max_interval_ms. The retry is due at now_ms + delay; a due time later
//   than received_at_ms + max_age_ms → kDead. A retry landing exactly on that boundary is still allowed, so a
//   schedule whose delays sum to max_age gets its last attempt.
// Never throws; the Retry-After value is untrusted.
NextStep nextStep(const RetryPolicy& p, uint32_t attempts_made, int64_t received_at_ms, int64_t now_ms,
                  const AttemptResult& r, Random& rnd);

// A Retry-After value as milliseconds from now_ms (0 for a date in the past): delta-seconds ("120") or an
// HTTP-date in any of RFC 9110's three forms: IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", RFC 850
// "Sunday, 06-Nov-94 08:49:37 GMT" (two-digit years more than 50 years ahead of now_ms fall back a century)
// and asctime "Sun Nov  6 08:49:37 1994". Surrounding spaces and tabs are ignored; names match
// case-insensitively; the weekday name must be a real one but is not checked against the date. Huge
// delta-seconds saturate at UINT64_MAX. nullopt when unparseable. Locale- and TZ-independent; never throws.
std::optional<uint64_t> parseRetryAfter(std::string_view value, int64_t now_ms);

// The policy's own delay after attempt attempts_made (0 is taken as 1), before Retry-After and max_age:
// schedule_ms[n-1] (the last entry past the end), or initial_ms * multiplier^(n-1) when exponential (or when
// the schedule is empty); capped by max_interval_ms; then jitter, uniform in [d*(1-j), d*(1+j)] and rounded;
// then capped by max_interval_ms again. Never overflows: any product beyond the cap is the cap.
uint64_t delayFor(const RetryPolicy& p, uint32_t attempts_made, Random& rnd);

}  // namespace payhook::delivery
