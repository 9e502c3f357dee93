#include "handlers/yookassa/settings.h"

namespace payhook::handlers::yookassa {

namespace {

std::shared_ptr<const config::ProviderSettings> read(config::RouteKeys& keys, const config::RouteConfig&) {
  auto settings = std::make_shared<Settings>();
  if (auto id = keys.identifier("shop_id")) {
    // The user half of "shop_id:secret" in basic authentication: a colon would move the split.
    if (id->find(':') != std::string::npos)
      keys.error("shop_id", "must not contain ':'");
    else
      settings->shop_id = std::move(*id);
  } else if (!keys.has("shop_id")) {
    keys.error("shop_id", "is required for provider \"yookassa\" (the shop's shopId, for the API re-check)");
  }
  if (auto secret = keys.secret("secret_key")) {
    settings->secret_key = std::move(*secret);
  } else if (!keys.has("secret_key_file") && !keys.has("secret_key")) {
    keys.missingSecret("secret_key",
                       "is required for provider \"yookassa\" (the shop's API secret key: every notification "
                       "is re-checked through the API)");
  }
  if (auto base = keys.string("api_base")) {
    std::string b = std::move(*base);
    while (!b.empty() && b.back() == '/') b.pop_back();
    if (!b.starts_with("http://") && !b.starts_with("https://"))
      keys.error("api_base", "\"" + b + "\" must start with http:// or https://");
    else
      settings->api_base = std::move(b);
  }
  // Expected payments (README "Expected payments") ask the same API with the same credentials.
  if (auto rate = keys.integer("poll_rate", 1)) settings->poll.rate = *rate;
  if (auto hold = keys.duration("hold_deadline", 1)) settings->poll.hold_deadline_ms = *hold;
  if (auto timeout = keys.duration("poll_timeout", 1)) settings->poll.timeout_ms = *timeout;
  // The shop decides nothing here: YooKassa is answered at once and the payment already happened.
  if (keys.has("decision"))
    keys.error("decision", "provider \"yookassa\" has no decision flow: name the apps in `forward`");
  return settings;
}

}  // namespace

config::ProviderConfig providerConfig() {
  return {
      "yookassa",
      {"shop_id", "secret_key_file", "secret_key", "api_base", "poll_rate", "hold_deadline", "poll_timeout"},
      read};
}

}  // namespace payhook::handlers::yookassa
