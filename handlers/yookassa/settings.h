// The `yookassa` route's own keys (README "YooKassa").
#pragma once

#include <string>

#include "common/secret.h"
#include "config/config.h"
#include "handlers/status_source.h"

namespace payhook::handlers::yookassa {

inline constexpr const char* kDefaultApiBase = "https://api.yookassa.ru";

struct Settings final : config::ProviderSettings {
  std::string shop_id;                     // the shop's shopId: the user of the API's basic authentication
  Secret secret_key;                       // the shop's secret key: its password
  std::string api_base = kDefaultApiBase;  // without a trailing '/'; the re-check GETs {api_base}/v3/...
  PollSettings poll;                       // expected payments: how fast and how long the API is asked
};

config::ProviderConfig providerConfig();

}  // namespace payhook::handlers::yookassa
