#include "handlers/payinpayout/settings.h"

namespace payhook::handlers::payinpayout {

namespace {

std::shared_ptr<const config::ProviderSettings> read(config::RouteKeys& keys, const config::RouteConfig&) {
  auto settings = std::make_shared<Settings>();
  if (auto secret = keys.secretLines("secret")) {
    settings->secret = std::move(*secret);
  } else if (!keys.has("secret_file") && !keys.has("secret")) {
    keys.missingSecret("secret", "is required for provider \"payinpayout\"");
  }
  if (auto v = keys.duration("timestamp_tolerance", 1'000)) settings->timestamp_tolerance_ms = *v;
  return settings;
}

}  // namespace

config::ProviderConfig providerConfig() {
  return {"payinpayout", {"secret_file", "secret", "timestamp_tolerance"}, read};
}

}  // namespace payhook::handlers::payinpayout
