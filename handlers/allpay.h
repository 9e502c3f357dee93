// The `allpay` route handler: allpay.kz's merchant notification (PROTOCOLS.md "allpay.kz").
//
// allpay POSTs the base64 of a signed XML WebShopResponse to the shop's ResponseURL. The base64 is the raw
// request body, as both of allpay's demos read it (PHP: php://input; Java: the JAX-RS entity); when the
// body is not base64 and is a form (application/x-www-form-urlencoded), the single `webshopResponse` field
// is used instead, named after the `webshopRequest` field the shop posts to allpay. A repeated form field is
// refused.
//
// The document is parsed by libxml2 without DTDs (any DOCTYPE is refused) and its enveloped XMLDSig is
// verified by xmlsec1 with allpay's RSA public key from the route, against the whole document only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "config/config.h"
#include "handlers/handler.h"

namespace payhook::handlers {

// allpay's public key as xmlsec1 holds it; defined in allpay.cpp so that xmlsec1's headers (and the
// compile definitions they need) stay there.
struct AllpayKey;

// POST {path}/notify. Stored, then answered 200: `OK` (protocol v1) or a WebShopCustomerResponse with
// Status `DONE` / `0` (v2). 403 when the signature does not verify; 400 when the body is not base64 of a
// WebShopResponse (no DOCTYPE allowed) with InvoiceNumber, TransactionId and Status.
// Idempotent on InvoiceNumber:TransactionId:Status. Event type `allpay.payment_result`; data carries the
// normalised `payment` (Status 0 or SUCCESS: succeeded, any other: failed; no amount or currency).
class AllpayHandler final : public Handler {
 public:
  enum class Answer { kV1, kV2 };
  enum class StatusForm { kName, kDigit };  // v2's Status on the wire: DONE or 0

  // `public_key_pem` is a PEM public key (or an X.509 certificate) for an RSA key. Errors name what failed.
  static Result<std::unique_ptr<AllpayHandler>> create(std::string route, std::string_view public_key_pem,
                                                       Answer answer, StatusForm status_form);
  ~AllpayHandler() override;

  std::vector<Endpoint> endpoints() const override;
  Verdict handle(size_t endpoint, const http::Request& request, int64_t now_ms) const override;

  // The positive answer, exactly as sent after the event is stored (also to a repeated notification).
  http::Response ack() const;

 private:
  AllpayHandler(std::string route, std::unique_ptr<AllpayKey> key, Answer answer, StatusForm status_form);

  std::string route_;
  std::unique_ptr<AllpayKey> key_;
  Answer answer_;
  StatusForm status_form_;
};

// The registry's factory: public_key (PEM, from public_key_file), answer ("v1"/"v2"), status_form
// ("name"/"digit"), as config/routes.cpp validated them.
Result<std::unique_ptr<Handler>> makeAllpayHandler(const config::RouteConfig& route);

}  // namespace payhook::handlers
