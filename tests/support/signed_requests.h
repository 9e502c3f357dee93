// Validly signed Standard Webhooks callbacks for integration tests: the headers, and a POST of one to a
// running payhookd. Signed with the demo route's secret (DaemonProcess::kDemoSecret) unless told otherwise.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <utility>
#include <vector>

#include "common/webhook_signature.h"
#include "support/daemon_process.h"
#include "support/http_client.h"

namespace payhook::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;

// A small invoice event, the body most tests post.
inline const std::string kInvoiceBody = R"({"type":"invoice.paid","data":{"amount":"10.50"}})";

// webhook-id, webhook-timestamp (`ts`, Unix seconds), webhook-signature and content-type for `body`.
inline Headers standardWebhookHeaders(const std::string& id, const std::string& body,
                                      int64_t ts = std::time(nullptr),
                                      const std::string& secret = DaemonProcess::kDemoSecret) {
  auto key = swh::decodeSecret(secret).value();
  const std::string t = std::to_string(ts);
  return {{"webhook-id", id},
          {"webhook-timestamp", t},
          {"webhook-signature", swh::signV1(key, id, t, body)},
          {"content-type", "application/json"}};
}

// POSTs `body` signed for `id` to `path` on `address` (a daemon's main listener), on a fresh connection.
inline HttpResponse postStandardWebhook(const std::string& address, const std::string& id,
                                        const std::string& body = kInvoiceBody,
                                        const std::string& path = "/hooks/demo") {
  return httpRequest(address, "POST", path, standardWebhookHeaders(id, body), body);
}

}  // namespace payhook::testing
