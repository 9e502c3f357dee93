// The `standard-webhooks` route's own keys (README "Configuration").
#pragma once

#include <string>
#include <vector>

#include "common/secret.h"
#include "common/webhook_signature.h"
#include "config/config.h"

namespace payhook::handlers::standard_webhooks {

struct Settings final : config::ProviderSettings {
  std::vector<Secret> secret;  // whsec_ lines: HMAC keys, several during rotation
  std::string public_key;      // whpk_ lines: ed25519 keys for v1a signatures

  std::optional<ReplayWindow> replayWindow() const override {
    return ReplayWindow{static_cast<uint64_t>(swh::kToleranceS) * 1'000, "", "Standard Webhooks'"};
  }
};

config::ProviderConfig providerConfig();

}  // namespace payhook::handlers::standard_webhooks
