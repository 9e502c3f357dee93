#include "daemon/live_status.h"

#include <cmath>

#include <nlohmann/json.hpp>

namespace payhook::daemon {
namespace {

// One decimal is all a person reads off a rate.
double rounded(double v) {
  return std::round(v * 10.0) / 10.0;
}

}  // namespace

std::string liveJson(const std::string& not_ready,
                     const std::map<std::string, delivery::TargetStatus>& targets, const Rates& rates) {
  nlohmann::ordered_json j;
  j["redis"] = {{"ready", not_ready.empty()}, {"reason", not_ready}};
  j["targets"] = nlohmann::ordered_json::array();
  for (const auto& [name, st] : targets)
    j["targets"].push_back(
        {{"name", name}, {"breaker", delivery::breakerStateName(st.breaker)}, {"in_flight", st.in_flight}});
  j["per_minute"] = {{"callbacks", rounded(rates.callbacks)},
                     {"deliveries", rounded(rates.deliveries)},
                     {"failed_deliveries", rounded(rates.failed_deliveries)},
                     {"window_s", rates.window_ms / 1000},
                     {"warming_up", rates.warming_up}};
  // What the rates were computed from, for a reader that prefers counts to a rate scaled up from seconds.
  j["counted"] = {{"callbacks", rates.counted.callbacks},
                  {"deliveries", rates.counted.deliveries},
                  {"failed_deliveries", rates.counted.failed_deliveries}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace payhook::daemon
