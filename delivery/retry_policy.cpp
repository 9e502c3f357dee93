#include "delivery/retry_policy.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <limits>

namespace payhook::delivery {
namespace {

constexpr uint64_t kUint64Max = std::numeric_limits<uint64_t>::max();
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kMsPerDay = 86'400'000;

// a + b without overflow. The room is computed in unsigned arithmetic, where it is exact for every a.
int64_t addSaturating(int64_t a, uint64_t b) {
  const uint64_t room = static_cast<uint64_t>(kInt64Max) - static_cast<uint64_t>(a);
  if (b >= room) return kInt64Max;
  return static_cast<int64_t>(static_cast<uint64_t>(a) + b);
}

// Rounds a delay computed in floating point and caps it. NaN (a nonsense multiplier) and anything at or
// beyond the cap, infinity included, become the cap, so no conversion below can overflow.
uint64_t roundCapped(double ms, uint64_t cap) {
  if (std::isnan(ms)) return cap;
  if (ms <= 0) return 0;
  if (ms >= static_cast<double>(cap)) return cap;
  return std::min(static_cast<uint64_t>(std::round(ms)), cap);
}

// Durations as the config spells them ("72h", "30m"), so an operator recognises the configured value.
std::string formatDuration(uint64_t ms) {
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1'000 == 0) return std::to_string(ms / 1'000) + "s";
  return std::to_string(ms) + "ms";
}

std::string outcomeReason(int status) {
  if (status == 0) return "timeout/network error";
  return "HTTP " + std::to_string(status);
}

// --- HTTP-date (RFC 9110 section 5.6.7) ---

constexpr std::array<std::string_view, 7> kShortDays{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> kLongDays{"Monday", "Tuesday",  "Wednesday", "Thursday",
                                                    "Friday", "Saturday", "Sunday"};
constexpr std::array<std::string_view, 12> kMonths{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// ASCII only: <cctype> would consult the locale.
char lowerAscii(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}
bool isDigit(char c) {
  return c >= '0' && c <= '9';
}
bool isAlpha(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lowerAscii(a[i]) != lowerAscii(b[i])) return false;
  }
  return true;
}

template <size_t N>
std::optional<unsigned> indexOf(const std::array<std::string_view, N>& names, std::string_view word) {
  for (size_t i = 0; i < N; ++i) {
    if (equalsIgnoreCase(names[i], word)) return static_cast<unsigned>(i);
  }
  return std::nullopt;
}

// A forward-only reader; every method fails without consuming anything past the point of failure, and the
// caller gives up on the first failure.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}

  bool done() const { return pos_ == text_.size(); }

  bool eat(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  bool eatWord(std::string_view word) { return equalsIgnoreCase(letters(), word); }

  std::string_view letters() {
    const size_t start = pos_;
    while (pos_ < text_.size() && isAlpha(text_[pos_])) ++pos_;
    return text_.substr(start, pos_ - start);
  }

  // Between min_count and max_count digits (at most 4 here, so no overflow).
  std::optional<int> number(size_t min_count, size_t max_count) {
    int value = 0;
    size_t count = 0;
    while (count < max_count && pos_ < text_.size() && isDigit(text_[pos_])) {
      value = value * 10 + (text_[pos_] - '0');
      ++pos_;
      ++count;
    }
    if (count < min_count) return std::nullopt;
    return value;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

struct TimeOfDay {
  int hour, minute, second;
};

// "08:49:37"; a leap second (:60) is accepted and simply lands on the next minute.
std::optional<TimeOfDay> readTime(Cursor& c) {
  auto hour = c.number(2, 2);
  if (!hour || *hour > 23 || !c.eat(':')) return std::nullopt;
  auto minute = c.number(2, 2);
  if (!minute || *minute > 59 || !c.eat(':')) return std::nullopt;
  auto second = c.number(2, 2);
  if (!second || *second > 60) return std::nullopt;
  return TimeOfDay{*hour, *minute, *second};
}

std::optional<unsigned> readMonth(Cursor& c) {
  return indexOf(kMonths, c.letters());
}

// Unix ms of a civil UTC time, or nullopt for an impossible date (31 Nov, 29 Feb 1900). std::chrono's
// calendar does the arithmetic, so neither timegm nor the process TZ is involved.
std::optional<int64_t> unixMs(int year, unsigned month0, int day, const TimeOfDay& t) {
  using namespace std::chrono;
  const year_month_day ymd{std::chrono::year{year}, std::chrono::month{month0 + 1},
                           std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok()) return std::nullopt;
  const int64_t days = sys_days{ymd}.time_since_epoch().count();
  return days * kMsPerDay + (t.hour * 3'600 + t.minute * 60 + t.second) * int64_t{1'000};
}

// The Gregorian year now_ms falls in, for RFC 850's two-digit years. now_ms is clamped to years 0..9999 so
// chrono's calendar stays inside its specified range whatever the caller passes.
int currentYear(int64_t now_ms) {
  constexpr int64_t kYear10000 = 253'402'300'800'000;  // 10000-01-01T00:00:00Z
  constexpr int64_t kYear0 = -62'167'219'200'000;      // 0000-01-01T00:00:00Z
  const int64_t clamped = std::clamp(now_ms, kYear0, kYear10000 - 1);
  const int64_t days = clamped >= 0 ? clamped / kMsPerDay : -((-clamped + kMsPerDay - 1) / kMsPerDay);
  const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{days}}};
  return static_cast<int>(ymd.year());
}

// IMF-fixdate and RFC 850, after "<day-name>,": " 06 Nov 1994 08:49:37 GMT" or " 06-Nov-94 08:49:37 GMT".
std::optional<int64_t> parseCommaDate(Cursor& c, int64_t now_ms) {
  if (!c.eat(' ')) return std::nullopt;
  // IMF-fixdate demands two digits; one is accepted too, since a lone digit cannot mean anything else.
  auto day = c.number(1, 2);
  if (!day) return std::nullopt;
  int year = 0;
  std::optional<unsigned> month;
  if (c.eat(' ')) {
    month = readMonth(c);
    if (!month || !c.eat(' ')) return std::nullopt;
    auto y = c.number(4, 4);
    if (!y) return std::nullopt;
    year = *y;
  } else if (c.eat('-')) {
    month = readMonth(c);
    if (!month || !c.eat('-')) return std::nullopt;
    auto yy = c.number(2, 2);
    if (!yy) return std::nullopt;
    // RFC 9110: a two-digit year that looks more than 50 years ahead means the most recent past such year.
    const int now_year = currentYear(now_ms);
    year = now_year - now_year % 100 + *yy;
    if (year > now_year + 50) year -= 100;
  } else {
    return std::nullopt;
  }
  if (!c.eat(' ')) return std::nullopt;
  auto time = readTime(c);
  if (!time || !c.eat(' ') || !c.eatWord("GMT") || !c.done()) return std::nullopt;
  return unixMs(year, *month, *day, *time);
}

// asctime, after "<day-name>": " Nov  6 08:49:37 1994" (a one-digit day is padded with a space).
std::optional<int64_t> parseAsctime(Cursor& c) {
  if (!c.eat(' ')) return std::nullopt;
  auto month = readMonth(c);
  if (!month || !c.eat(' ')) return std::nullopt;
  auto day = c.eat(' ') ? c.number(1, 1) : c.number(1, 2);
  if (!day || !c.eat(' ')) return std::nullopt;
  auto time = readTime(c);
  if (!time || !c.eat(' ')) return std::nullopt;
  auto year = c.number(4, 4);
  if (!year || !c.done()) return std::nullopt;
  return unixMs(*year, *month, *day, *time);
}

std::optional<int64_t> parseHttpDate(std::string_view text, int64_t now_ms) {
  Cursor c(text);
  const std::string_view day_name = c.letters();
  if (!indexOf(kShortDays, day_name) && !indexOf(kLongDays, day_name)) return std::nullopt;
  if (c.eat(',')) return parseCommaDate(c, now_ms);
  return parseAsctime(c);
}

std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

SodiumRandom::SodiumRandom() {
  // sodium_init() is idempotent and thread-safe. randombytes picks its implementation lazily and works
  // without it, and the daemon refuses to start when it fails, so the result is not needed here.
  [[maybe_unused]] const int ignored = sodium_init();
}

double SodiumRandom::uniform01() {
  // 2^31 steps are far finer than any delay needs, and randombytes_uniform has no modulo bias.
  constexpr uint32_t kSteps = uint32_t{1} << 31;
  return static_cast<double>(randombytes_uniform(kSteps)) / static_cast<double>(kSteps);
}

uint64_t allowedAttempts(const RetryPolicy& p) {
  if (p.exponential) return std::max<uint64_t>(p.max_attempts, 1);
  return static_cast<uint64_t>(p.schedule_ms.size()) + 1;
}

uint64_t delayFor(const RetryPolicy& p, uint32_t attempts_made, Random& rnd) {
  const uint32_t n = std::max<uint32_t>(attempts_made, 1);
  const uint64_t cap = p.max_interval_ms;
  uint64_t base = 0;
  if (!p.exponential && !p.schedule_ms.empty()) {
    // Past the end only when the caller skipped the exhaustion check; the last delay is the sane answer.
    base = std::min(p.schedule_ms[std::min<size_t>(n, p.schedule_ms.size()) - 1], cap);
  } else if (p.initial_ms != 0) {
    // pow() in double reaches infinity instead of wrapping; roundCapped turns that (and NaN) into the cap.
    base = roundCapped(static_cast<double>(p.initial_ms) * std::pow(p.multiplier, n - 1.0), cap);
  }
  const double j = std::isnan(p.jitter) ? 0.0 : std::clamp(p.jitter, 0.0, 1.0);
  if (j == 0.0 || base == 0) return base;
  double u = rnd.uniform01();
  u = std::isnan(u) ? 0.5 : std::clamp(u, 0.0, 1.0);
  // u spans [0, 1), so the factor spans [1-j, 1+j); rounding reaches both ends.
  return roundCapped(static_cast<double>(base) * (1.0 - j + 2.0 * j * u), cap);
}

std::optional<uint64_t> parseRetryAfter(std::string_view value, int64_t now_ms) {
  value = trimOws(value);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), isDigit)) {
    // delta-seconds: any length, saturating, since the caller caps it anyway.
    uint64_t seconds = 0;
    for (char ch : value) {
      const auto digit = static_cast<uint64_t>(ch - '0');
      if (seconds > (kUint64Max - digit) / 10) return kUint64Max;
      seconds = seconds * 10 + digit;
    }
    return seconds > kUint64Max / 1'000 ? kUint64Max : seconds * 1'000;
  }
  const auto when = parseHttpDate(value, now_ms);
  if (!when) return std::nullopt;
  if (*when <= now_ms) return 0;
  // Exact in unsigned arithmetic: the true difference of two int64 values always fits in a uint64.
  return static_cast<uint64_t>(*when) - static_cast<uint64_t>(now_ms);
}

NextStep nextStep(const RetryPolicy& p, uint32_t attempts_made, int64_t received_at_ms, int64_t now_ms,
                  const AttemptResult& r, Random& rnd) {
  using Kind = NextStep::Kind;
  const uint32_t n = std::max<uint32_t>(attempts_made, 1);
  if (r.status >= 200 && r.status <= 299) return {Kind::kDelivered, 0, outcomeReason(r.status)};
  if (r.status == 410) return {Kind::kDead, 0, "gone (410)"};
  if (n >= allowedAttempts(p)) {
    return {Kind::kDead, 0, "exhausted after " + std::to_string(n) + (n == 1 ? " attempt" : " attempts")};
  }

  std::optional<uint64_t> asked;
  if ((r.status == 429 || r.status == 503) && !r.retry_after.empty()) {
    asked = parseRetryAfter(r.retry_after, now_ms);
  }
  // Retry-After names a time, so it is not jittered; it is still capped so a hostile or confused app cannot
  // park a job for years.
  const uint64_t delay = asked ? std::min(*asked, p.max_interval_ms) : delayFor(p, n, rnd);

  const int64_t due = addSaturating(now_ms, delay);
  // Inclusive boundary: a retry due exactly at received_at + max_age still runs (see the header).
  if (due > addSaturating(received_at_ms, p.max_age_ms)) {
    return {Kind::kDead, 0, "max_age " + formatDuration(p.max_age_ms) + " exceeded"};
  }
  return {Kind::kRetry, due, outcomeReason(r.status)};
}

}  // namespace payhook::delivery
