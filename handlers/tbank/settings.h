// The `tbank` route's own keys (README "T-Bank").
#pragma once

#include <string>

#include "common/secret.h"
#include "config/config.h"

namespace payhook::handlers::tbank {

struct Settings final : config::ProviderSettings {
  std::string terminal_key;  // the terminal's TerminalKey: every notification must name it
  Secret password;           // the terminal's password: the Token is made with it
};

config::ProviderConfig providerConfig();

}  // namespace payhook::handlers::tbank
