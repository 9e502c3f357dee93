// The `payinpayout` route handler: Payin-payout's invoice-result and top-up callbacks (PROTOCOLS.md).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/secret.h"
#include "config/config.h"
#include "handlers/form.h"
#include "handlers/handler.h"

namespace payhook::handlers {

namespace payinpayout {

using handlers::phpUrlencode;  // handlers/form.h

// The signed message of a JSON body, as Payin-payout's PHP builds it: every top-level field except `hash`
// and `tracker`, keys sorted case-insensitively, `key=value` joined with "&", keys and values passed
// through phpUrlencode(). Strings as they are, integers in decimal, true/false as 1/0, null omitted.
// An error (the body is malformed, answered 400) when the body is not a JSON object, a key appears twice
// (or twice ignoring case, where PHP's order would be undefined), or a field is a float, an object or an
// array (PHP would print a float in a form we cannot reproduce exactly).
Result<std::string> signedMessage(std::string_view body);

}  // namespace payinpayout

// POST {path}/callback (invoice result) and POST {path}/topup. Answers 200 {"result": true} once stored,
// 403 {"result": false} on a bad hash or a timestamp outside the tolerance, 400 {"result": false} on a
// malformed body. Idempotent on "invoice:<external_id>:<status>" and "topup:<payment_in_id>".
class PayinPayoutHandler final : public Handler {
 public:
  PayinPayoutHandler(std::string route, Secret key, uint64_t timestamp_tolerance_ms);

  std::vector<Endpoint> endpoints() const override;
  Verdict handle(size_t endpoint, const http::Request& request, int64_t now_ms) const override;

 private:
  std::string route_;
  Secret key_;
  uint64_t tolerance_ms_;
};

// The registry's factory: the key is the first line of the route's secret_file (Payin-payout issues one
// API secret per account).
Result<std::unique_ptr<Handler>> makePayinPayoutHandler(const config::RouteConfig& route);

}  // namespace payhook::handlers
