#include "handlers/tbank/settings.h"

namespace payhook::handlers::tbank {

namespace {

std::shared_ptr<const config::ProviderSettings> read(config::RouteKeys& keys, const config::RouteConfig&) {
  auto settings = std::make_shared<Settings>();
  if (auto key = keys.identifier("terminal_key")) {
    settings->terminal_key = std::move(*key);
  } else if (!keys.has("terminal_key")) {
    keys.error("terminal_key", "is required for provider \"tbank\" (the terminal's TerminalKey)");
  }
  if (auto password = keys.secret("password")) {
    settings->password = std::move(*password);
  } else if (!keys.has("password_file") && !keys.has("password")) {
    keys.missingSecret("password", "is required for provider \"tbank\" (the terminal's password)");
  }
  return settings;
}

}  // namespace

config::ProviderConfig providerConfig() {
  return {"tbank", {"terminal_key", "password_file", "password"}, read};
}

}  // namespace payhook::handlers::tbank
