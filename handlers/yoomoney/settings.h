// The `yoomoney` route's own keys (README "Configuration").
#pragma once

#include <cstdint>
#include <string>

#include "common/secret.h"
#include "config/config.h"

namespace payhook::handlers::yoomoney {

// Bytes of fields the md5 does not cover, names included, that a callback may carry.
inline constexpr uint64_t kDefaultMaxUnsigned = 8 * 1024;

struct Settings final : config::ProviderSettings {
  std::string shop_id;  // the shop's numeric id, as YooMoney sends it
  Secret shop_password;
  uint64_t max_unsigned = kDefaultMaxUnsigned;
};

config::ProviderConfig providerConfig();

}  // namespace payhook::handlers::yoomoney
