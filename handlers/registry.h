// The registry: every provider payhook speaks, one line each in registry.cpp.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "config/config.h"
#include "handlers/handler.h"
#include "handlers/provider.h"

namespace payhook::handlers {

const std::vector<Provider>& providers();
// The providers' keys, for config::loadConfigFile().
const config::ProviderCatalog& providerCatalog();

// Builds the handler for a route. Errors are "key: message" (the caller prefixes FILE:LINE).
Result<std::unique_ptr<Handler>> makeHandler(const config::RouteConfig& route);
// The route's follow-up (FollowUp), or null when its provider has none or the route does not use it.
std::shared_ptr<const FollowUp> makeFollowUp(const config::RouteConfig& route);
// The route's re-check (Recheck), or null when its provider has none.
std::shared_ptr<const Recheck> makeRecheck(const config::RouteConfig& route);
// The route's order-status API (StatusSource), or null when its provider has none or the route sets none up.
std::shared_ptr<const StatusSource> makeStatusSource(const config::RouteConfig& route);
std::vector<std::string> providerNames();

}  // namespace payhook::handlers
