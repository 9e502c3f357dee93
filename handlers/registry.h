// The registry: provider name → handler factory. A provider is added with one handler file pair and one
// line in registry.cpp.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "config/config.h"
#include "handlers/handler.h"

namespace payhook::handlers {

// Builds the handler for a route. Errors are "key: message" (the caller prefixes FILE:LINE).
Result<std::unique_ptr<Handler>> makeHandler(const config::RouteConfig& route);

std::vector<std::string> providerNames();

}  // namespace payhook::handlers
