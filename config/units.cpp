#include "config/units.h"

#include <array>
#include <cctype>
#include <optional>

#include "config/config.h"

namespace payhook::config {
namespace {

struct Unit {
  std::string_view name;
  uint64_t factor;
};

// Largest first: compound durations must list their parts in this order ("1h30m", not "30m1h"), which
// catches slips such as "5m5m" that would otherwise add up silently.
constexpr std::array<Unit, 5> kDurationUnits{{
    {"d", 86'400'000},
    {"h", 3'600'000},
    {"m", 60'000},
    {"s", 1'000},
    {"ms", 1},
}};

constexpr std::array<Unit, 10> kSizeUnits{{
    {"B", 1},
    {"KB", 1'000},
    {"kB", 1'000},
    {"MB", 1'000'000},
    {"GB", 1'000'000'000},
    {"TB", 1'000'000'000'000},
    {"KiB", 1ull << 10},
    {"MiB", 1ull << 20},
    {"GiB", 1ull << 30},
    {"TiB", 1ull << 40},
}};

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}
bool isAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Reads the digits at `pos`; nullopt when there are none or the number does not fit.
std::optional<uint64_t> readNumber(std::string_view text, size_t& pos, bool& overflow) {
  const size_t start = pos;
  uint64_t value = 0;
  while (pos < text.size() && isDigit(text[pos])) {
    if (__builtin_mul_overflow(value, 10u, &value) ||
        __builtin_add_overflow(value, static_cast<uint64_t>(text[pos] - '0'), &value)) {
      overflow = true;
    }
    ++pos;
  }
  if (pos == start) return std::nullopt;
  return value;
}

std::string quoted(std::string_view text) {
  // Config values shown back to the user are cut short: a pasted secret in the wrong key must not be echoed
  // whole.
  constexpr size_t kMax = 40;
  std::string out = "\"";
  out += text.substr(0, kMax);
  if (text.size() > kMax) out += "...";
  out += '"';
  return out;
}

}  // namespace

Result<uint64_t> parseDurationExplained(std::string_view text) {
  const std::string kHint = "use a number with a unit: ms, s, m, h or d (e.g. \"250ms\", \"10s\", \"1h30m\")";
  if (text.empty()) return Error{"empty duration; " + kHint};
  uint64_t total = 0;
  size_t pos = 0;
  size_t next_unit = 0;  // index into kDurationUnits: parts must get strictly smaller
  bool overflow = false;
  while (pos < text.size()) {
    const size_t number_start = pos;
    const auto number = readNumber(text, pos, overflow);
    if (!number) return Error{quoted(text) + " is not a duration; " + kHint};
    const size_t unit_start = pos;
    while (pos < text.size() && isAlpha(text[pos])) ++pos;
    const std::string_view unit = text.substr(unit_start, pos - unit_start);
    if (unit.empty()) {
      if (number_start == 0 && pos == text.size()) {
        return Error{quoted(text) + " has no unit; units are required: ms, s, m, h or d (e.g. \"" +
                     std::string(text) + "s\")"};
      }
      return Error{quoted(text) + " is not a duration; " + kHint};
    }
    size_t index = 0;
    while (index < kDurationUnits.size() && kDurationUnits[index].name != unit) ++index;
    if (index == kDurationUnits.size()) {
      return Error{quoted(text) + " has an unknown unit \"" + std::string(unit) + "\"; " + kHint};
    }
    if (index < next_unit) {
      return Error{quoted(text) +
                   " lists its parts out of order; write the largest unit first (e.g. \"1h30m\")"};
    }
    next_unit = index + 1;
    uint64_t part = 0;
    if (overflow || __builtin_mul_overflow(*number, kDurationUnits[index].factor, &part) ||
        __builtin_add_overflow(total, part, &total)) {
      return Error{quoted(text) + " is too large"};
    }
  }
  return total;
}

Result<uint64_t> parseSizeExplained(std::string_view text) {
  const std::string kHint =
      "use bytes or a unit: KiB, MiB, GiB (binary) or KB, MB, GB (decimal), e.g. \"64KiB\"";
  size_t pos = 0;
  bool overflow = false;
  const auto number = readNumber(text, pos, overflow);
  if (!number)
    return Error{(text.empty() ? std::string("empty size") : quoted(text) + " is not a size") + "; " + kHint};
  while (pos < text.size() && text[pos] == ' ') ++pos;
  const std::string_view unit = text.substr(pos);
  uint64_t factor = 0;
  if (unit.empty()) {
    factor = 1;
  } else {
    for (const Unit& u : kSizeUnits) {
      if (u.name == unit) factor = u.factor;
    }
  }
  if (factor == 0) return Error{quoted(text) + " is not a size; " + kHint};
  uint64_t bytes = 0;
  if (overflow || __builtin_mul_overflow(*number, factor, &bytes))
    return Error{quoted(text) + " is too large"};
  return bytes;
}

std::string formatDuration(uint64_t ms) {
  if (ms == 0) return "0s";
  std::string out;
  for (const Unit& unit : kDurationUnits) {
    if (ms >= unit.factor) {
      out += std::to_string(ms / unit.factor);
      out += unit.name;
      ms %= unit.factor;
    }
  }
  return out;
}

std::optional<uint64_t> parseDuration(std::string_view text) {
  auto result = parseDurationExplained(text);
  if (!result) return std::nullopt;
  return *result;
}

std::optional<uint64_t> parseSize(std::string_view text) {
  auto result = parseSizeExplained(text);
  if (!result) return std::nullopt;
  return *result;
}

}  // namespace payhook::config
