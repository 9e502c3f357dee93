// The `cloudpayments` route's own keys (README "CloudPayments").
#pragma once

#include "common/secret.h"
#include "config/config.h"

namespace payhook::handlers::cloudpayments {

struct Settings final : config::ProviderSettings {
  Secret api_secret;  // the site's API Secret (cabinet: Сайт → Настройки), which keys Content-HMAC
};

config::ProviderConfig providerConfig();

}  // namespace payhook::handlers::cloudpayments
