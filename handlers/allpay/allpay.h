// The `allpay` route handler: allpay.kz's merchant notification (README "allpay.kz").
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
#include "handlers/allpay/settings.h"
#include "handlers/handler.h"
#include "handlers/provider.h"

namespace payhook::handlers {

// allpay's public key as xmlsec1 holds it; defined in allpay.cpp so that xmlsec1's headers (and the
// compile definitions they need) stay there.
struct AllpayKey;

// POST {path}/notify. Stored, then answered 200: `OK` (protocol v1) or a WebShopCustomerResponse with
// Status `DONE` / `0` (v2). 403 when the signature does not verify; 400 when the body is not base64 of a
// WebShopResponse (no DOCTYPE allowed) with InvoiceNumber, TransactionId and Status.
// Idempotent on InvoiceNumber:TransactionId:Status. Event type `allpay.payment_result`; data carries the
// normalised `payment` (Status 0 or SUCCESS: succeeded, any other: failed; no amount or currency).
//
// v2 with the route's `decision` target (`decide`): a Decide flow. The verified notification is a
// Decide{event, deliver = true}: the daemon asks the target, stores the event with its decision and its
// delivery jobs, and answers with decided(): DONE on accept, FAIL with the shop's reason on a refusal,
// PENDING (allpay then sends the notification again) when the shop says pending or gives no usable answer.
class AllpayHandler final : public Handler {
 public:
  enum class Answer { kV1, kV2 };
  // v2's Status on the wire: DONE, or `0` for DONE with kDigit. allpay documents no digit form for PENDING
  // or FAIL, so those two are written by name in both forms.
  enum class StatusForm { kName, kDigit };

  // `public_key_pem` is a PEM public key (or an X.509 certificate) for an RSA key. Errors name what failed.
  // `decide` (the route has a `decision` target) makes a v2 route a Decide flow; a v1 route ignores it.
  static Result<std::unique_ptr<AllpayHandler>> create(std::string route, std::string_view public_key_pem,
                                                       Answer answer, StatusForm status_form,
                                                       bool decide = false);
  ~AllpayHandler() override;

  std::vector<Endpoint> endpoints() const override;
  Verdict handle(size_t endpoint, const http::Request& request, int64_t now_ms) const override;
  // The v2 answer to a decided notification: DONE (kAccept), FAIL with the app's message as Reason
  // (kRefuse; a default reason when it gave none), PENDING with the app's message (pending), or PENDING with
  // a fixed reason (kFailed: no usable answer in time). A Reason is at most kMaxReason characters, escaped.
  // For a Status that paid: the shop's FAIL fails the payment (outcome failed, warning "refused_by_shop");
  // PENDING, or no usable answer, leaves it pending until allpay's repeat is answered DONE or FAIL.
  void settle(Event& event, const Decision& decision) const override;
  http::Response decided(const Event& event, const Decision& decision) const override;

  // The positive answer, exactly as sent after the event is stored (also to a repeated notification).
  http::Response ack() const;

  static constexpr size_t kMaxReason = 255;  // characters; allpay's schema sets no limit

 private:
  AllpayHandler(std::string route, std::unique_ptr<AllpayKey> key, Answer answer, StatusForm status_form,
                bool decide);

  std::string route_;
  std::unique_ptr<AllpayKey> key_;
  Answer answer_;
  StatusForm status_form_;
  bool decide_;
};

// The registry's factory: public_key (PEM, from public_key_file), answer ("v1"/"v2"), status_form
// ("name"/"digit"), as allpay::providerConfig() validated them; a `decision` target makes a v2 route decide.
Result<std::unique_ptr<Handler>> makeAllpayHandler(const config::RouteConfig& route);

namespace allpay {
// The `allpay` provider: its keys and its handler.
Provider provider();
}  // namespace allpay

}  // namespace payhook::handlers
