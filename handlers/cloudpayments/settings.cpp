#include "handlers/cloudpayments/settings.h"

namespace payhook::handlers::cloudpayments {

namespace {

std::shared_ptr<const config::ProviderSettings> read(config::RouteKeys& keys, const config::RouteConfig&) {
  auto settings = std::make_shared<Settings>();
  if (auto secret = keys.secret("api_secret")) {
    settings->api_secret = std::move(*secret);
    if (settings->api_secret.empty()) keys.error("api_secret_file", "the API secret must not be empty");
  } else if (!keys.has("api_secret_file") && !keys.has("api_secret")) {
    keys.missingSecret("api_secret", "is required for provider \"cloudpayments\"");
  }
  // Without a target every Check would have to be answered without the shop: accepting them all would take
  // money for orders the shop never checked, and refusing them all would take none. Neither is a default.
  if (!keys.has("decision")) {
    keys.error("decision",
               "is required for provider \"cloudpayments\": Check asks this target before the payment is "
               "taken");
  }
  return settings;
}

}  // namespace

config::ProviderConfig providerConfig() {
  return {"cloudpayments", {"api_secret_file", "api_secret"}, read};
}

}  // namespace payhook::handlers::cloudpayments
