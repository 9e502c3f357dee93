// The `allpay` route's own keys (README "Configuration").
#pragma once

#include <string>

#include "config/config.h"

namespace payhook::handlers::allpay {

struct Settings final : config::ProviderSettings {
  std::string public_key;            // allpay's PEM public key
  std::string answer = "v1";         // "v1" or "v2"
  std::string status_form = "name";  // "name" or "digit"
};

config::ProviderConfig providerConfig();

}  // namespace payhook::handlers::allpay
