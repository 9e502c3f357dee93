#include "handlers/yoomoney/settings.h"

namespace payhook::handlers::yoomoney {

namespace {

std::shared_ptr<const config::ProviderSettings> read(config::RouteKeys& keys, const config::RouteConfig&) {
  auto settings = std::make_shared<Settings>();
  if (auto id = keys.identifier("shop_id")) {
    settings->shop_id = std::move(*id);
  } else if (!keys.has("shop_id")) {
    keys.error("shop_id", "is required for provider \"yoomoney\"");
  }
  if (auto password = keys.secret("shop_password")) {
    settings->shop_password = std::move(*password);
  } else if (!keys.has("shop_password_file") && !keys.has("shop_password")) {
    keys.missingSecret("shop_password", "is required for provider \"yoomoney\"");
  }
  if (!keys.has("decision")) {
    keys.error(
        "decision",
        "is required for provider \"yoomoney\": checkOrder asks this target before the payment is taken");
  }
  if (auto v = keys.size("max_unsigned", 0)) settings->max_unsigned = *v;
  return settings;
}

}  // namespace

config::ProviderConfig providerConfig() {
  return {"yoomoney", {"shop_id", "shop_password_file", "shop_password", "max_unsigned"}, read};
}

}  // namespace payhook::handlers::yoomoney
