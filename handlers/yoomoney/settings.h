// The `yoomoney` route's own keys (README "Configuration").
#pragma once

#include <cstdint>
#include <string>

#include "common/secret.h"
#include "config/config.h"

namespace payhook::handlers::yoomoney {

struct Settings final : config::ProviderSettings {
  std::string shop_id;  // the shop's numeric id, as YooMoney sends it
  Secret shop_password;
  uint64_t max_unsigned = 8 * 1024;  // bytes of fields the md5 does not cover, names included
};

config::ProviderConfig providerConfig();

}  // namespace payhook::handlers::yoomoney
