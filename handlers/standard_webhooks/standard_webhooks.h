// The `standard-webhooks` inbound route handler (signatures: common/webhook_signature.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/secret.h"
#include "common/webhook_signature.h"
#include "handlers/handler.h"
#include "handlers/provider.h"
#include "handlers/standard_webhooks/settings.h"

namespace payhook::handlers {
// The signature functions moved to common/; this keeps the handler's spelling (swh::verify) short.
namespace swh = payhook::swh;
}  // namespace payhook::handlers

namespace payhook::handlers {

// The `standard-webhooks` route: POST on the route's path. 204 once stored; 401 on a bad or stale
// signature; 400 when a webhook-* header is missing. Idempotent on webhook-id.
class StandardWebhooksHandler final : public Handler {
 public:
  StandardWebhooksHandler(std::string route, swh::VerifyKeys keys);

  std::vector<Endpoint> endpoints() const override;
  Verdict handle(size_t endpoint, const http::Request& request, int64_t now_ms) const override;

 private:
  std::string route_;
  swh::VerifyKeys keys_;
};

namespace standard_webhooks {
// The `standard-webhooks` provider: its keys and its handler.
Provider provider();
}  // namespace standard_webhooks

}  // namespace payhook::handlers
