// A registration of an expected order (README "Expected payments"), checked the same way for the admin API's
// POST /v1/expected and `payhookctl expect`: every mistake is refused with its reason and nothing is stored.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/result.h"

namespace payhook::config {
struct Config;
}  // namespace payhook::config

namespace payhook::delivery {

// Without --deadline / "deadline", payhook waits this long for the callback before asking the provider.
inline constexpr uint64_t kDefaultExpectDeadlineMs = 3'600'000;

struct ExpectedOrder {
  std::string route;
  std::string order;
  std::string amount;  // a decimal in major units, as the shop wrote it; empty: not given
  uint64_t deadline_ms = kDefaultExpectDeadlineMs;  // from the registration
};

// The route must exist and have a status API (a route key such as RBS api_base); the order must be 1 to 200
// bytes without control characters; the amount a non-negative decimal ("100", "100.50"); the deadline a
// duration ("90s", "2h"). Errors read "<field>: <reason>" and never carry secrets.
Result<ExpectedOrder> checkExpectedOrder(const config::Config& config, const std::string& route,
                                         const std::string& order, const std::string& amount,
                                         const std::optional<std::string>& deadline);

}  // namespace payhook::delivery
