// The `payinpayout` route's own keys (README "Configuration").
#pragma once

#include <cstdint>
#include <vector>

#include "common/secret.h"
#include "config/config.h"

namespace payhook::handlers::payinpayout {

struct Settings final : config::ProviderSettings {
  std::vector<Secret> secret;  // the account's API secret: the first line
  uint64_t timestamp_tolerance_ms = 600'000;

  std::optional<ReplayWindow> replayWindow() const override {
    return ReplayWindow{timestamp_tolerance_ms, "timestamp_tolerance"};
  }
};

config::ProviderConfig providerConfig();

}  // namespace payhook::handlers::payinpayout
