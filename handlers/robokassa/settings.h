// The `robokassa` route's own keys (README "Robokassa").
#pragma once

#include <string>

#include "common/secret.h"
#include "config/config.h"
#include "handlers/digest.h"

namespace payhook::handlers::robokassa {

struct Settings final : config::ProviderSettings {
  Secret password2;  // Password #2 of the shop's technical settings: ResultURL is signed with it
  HashAlgorithm hash = HashAlgorithm::kMd5;
  std::string currency = "RUB";  // ISO 4217 letters of OutSum: the shop's currency, which the call omits
};

config::ProviderConfig providerConfig();

}  // namespace payhook::handlers::robokassa
