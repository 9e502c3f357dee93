// The document of GET /v1/live: what this daemon knows now and Redis does not hold (Redis' readiness, each
// target's circuit breaker and attempts in flight, per-minute rates), for the queue page's overview.
#pragma once

#include <map>
#include <string>

#include "daemon/rate_window.h"
#include "delivery/engine.h"

namespace payhook::daemon {

// `not_ready`: why callbacks cannot be stored now (App's /readyz reason), empty when they can.
std::string liveJson(const std::string& not_ready,
                     const std::map<std::string, delivery::TargetStatus>& targets, const Rates& rates);

}  // namespace payhook::daemon
