// The `payinpayout` route handler: Payin-payout's invoice-result and top-up callbacks (README "Providers").
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
#include "handlers/payinpayout/settings.h"
#include "handlers/provider.h"

namespace payhook::handlers {

namespace payinpayout {

using handlers::phpUrlencode;  // handlers/form.h

// The field order of a signed message. Payin-payout's callback page signs the fields in the order they
// appear in the request; some of its integrations sort them first (keys compared as PHP's ksort with
// SORT_STRING | SORT_FLAG_CASE does). Both verify.
enum class Order { kAsSent, kSorted };

// How a JSON float is written into the message: as the body spells it, the shortest text that reads back
// as the same double (PHP 7.1+'s string conversion), or printf's "%.14G" (PHP's older `precision`).
enum class FloatForm { kAsSent, kShortest, kPrecision14 };

// The signed message of a body, as Payin-payout's PHP builds it: every top-level field except `hash` and
// `tracker`, `key=value` joined with "&", keys and values passed through phpUrlencode(). Strings as they
// are, integers in decimal, true/false as 1/0, null omitted, floats per `floats`. The body is a flat JSON
// object or an application/x-www-form-urlencoded form (every value a string). An error (answered 400) when
// it is neither, a key appears twice (or twice ignoring case, where PHP's sorted order is undefined), or a
// field is an object or an array.
Result<std::string> signedMessage(std::string_view body, Order order, FloatForm floats = FloatForm::kAsSent);

}  // namespace payinpayout

// POST {path}/callback (invoice result) and POST {path}/topup. Answers 200 {"result": true} once stored,
// 403 {"result": false} on a bad hash, 400 {"result": false} on a malformed body. A timestamp outside the
// tolerance guards new events only: such a callback is an Accept that the daemon acknowledges only as a
// repeat of an event already stored (Accept::unless_stored), and answers 403 otherwise. Idempotent on
// "invoice:<external_id>:<status>" and "topup:<payment_in_id>".
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

namespace payinpayout {
// The `payinpayout` provider: its keys and its handler.
Provider provider();
}  // namespace payinpayout

}  // namespace payhook::handlers
