// The `yoomoney` route handler: the YooMoney (Yandex.Money) HTTP protocol's checkURL and avisoURL
// (README "YooMoney").
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/secret.h"
#include "config/config.h"
#include "handlers/handler.h"
#include "handlers/provider.h"
#include "handlers/yoomoney/settings.h"

namespace payhook::handlers {

// The `yoomoney` route: `POST {path}/check` (checkOrder) and `POST {path}/aviso` (paymentAviso), form
// bodies signed with an MD5 over the shop password. Every answer is HTTP 200 with an XML body whose `code`
// attribute carries the verdict:
//   0    stored (aviso), or the shop accepted the order (check, through decided());
//   1    md5 mismatch, or the request's shopId is not the route's shop_id;
//   100  the shop refused the order, or did not answer in time (check only, through decided());
//   200  the body is not a form, a signed field is missing or not a number, or `action` is not the
//        endpoint's.
// Codes 1 and 200 are Rejects (nothing is stored). A store failure is the daemon's 503 (Handler default),
// never code 1 or 200: some copies of the docs say those two codes are not retried.
//
// Aviso: Accept, idempotency key "paymentAviso:<invoiceId>", type "yoomoney.payment_aviso"; a repeated aviso
// is the daemon's duplicate and gets the same code-0 answer. Check: Decide, idempotency key
// "checkOrder:<invoiceId>", type "yoomoney.check_order"; decided() answers it from the stored event alone.
//
// Event data: the fields the md5 covers under their snake_case names (shopId → shop_id, ...), values as
// strings exactly as received (percent-decoded); `md5` is never included. Every other documented field, and
// under "custom" the shop's own payment-form fields with their names as sent, go under "unsigned": anyone who
// saw a signed form could change them, so they never sit beside the signed ones. Their total size is bounded
// by the route's max_unsigned (code 200 beyond). A repeated check of one invoice is answered by the daemon
// from the first one's stored decision.
class YooMoneyHandler final : public Handler {
 public:
  enum EndpointIndex : size_t { kCheck = 0, kAviso = 1 };

  // `shop_id` is the shop's numeric id as configured; `shop_password` the cabinet's shopPassword.
  // `max_unsigned` bounds the bytes (names and values) of the fields the md5 does not cover.
  YooMoneyHandler(std::string route, std::string shop_id, Secret shop_password,
                  uint64_t max_unsigned = yoomoney::kDefaultMaxUnsigned);

  std::vector<Endpoint> endpoints() const override;
  Verdict handle(size_t endpoint, const http::Request& request, int64_t now_ms) const override;
  // The md5 value is blanked in the stored body (see Handler::storedBody).
  std::string storedBody(std::string&& body) const override;
  // For a check's Decide: code 0 on kAccept; code 100 with the app's message on kRefuse, or a generic
  // message on kFailed. invoiceId and shopId come from the event's data; performedDatetime is the event's
  // received_at_ms (this interface passes no clock, and receipt is when the check was performed).
  http::Response decided(const Event& event, const Decision& decision) const override;
  // Checks and avisos of one invoice share the note "invoice:<invoiceId>": a check the shop refused leaves
  // it, and an aviso that finds it records it under data.check_order and warns "check_refused".
  std::string noteKey(const Event& event) const override;
  std::string annotate(Event& event, std::string_view note) const override;

 private:
  std::string route_;
  std::string shop_id_;
  Secret shop_password_;
  uint64_t max_unsigned_;
};

// Builds the handler from a route's `shop_id` and `shop_password_file`. Errors are "key: message".
Result<std::unique_ptr<Handler>> makeYooMoneyHandler(const config::RouteConfig& route);

namespace yoomoney {

// The `yoomoney` provider: its keys and its handler.
Provider provider();

// The pieces of the answer, exposed for tests and the fuzz driver.

// xs:dateTime with milliseconds and an offset, e.g. "2011-05-04T16:38:01.000+00:00" for Unix milliseconds
// `unix_ms`. Always UTC, written "+00:00": the protocol asks for an offset, not a particular zone.
std::string performedDatetime(int64_t unix_ms);

// The whole answer body. `invoice_id` and `shop_id` are left out when empty; `message` (≤255 characters)
// and `tech_message` (≤64) too. `element` is "checkOrderResponse" or "paymentAvisoResponse".
std::string answerXml(std::string_view element, int64_t performed_ms, int code, std::string_view invoice_id,
                      std::string_view shop_id, std::string_view message = {},
                      std::string_view tech_message = {});

}  // namespace yoomoney
}  // namespace payhook::handlers
