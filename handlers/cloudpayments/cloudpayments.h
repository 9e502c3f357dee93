// The `cloudpayments` route handler: CloudPayments' notifications Check, Pay, Fail, Confirm, Refund,
// Recurrent and Cancel (README "CloudPayments").
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/secret.h"
#include "config/config.h"
#include "handlers/handler.h"
#include "handlers/provider.h"

namespace payhook::handlers {

// `POST {path}/check`, `/pay`, `/fail`, `/confirm`, `/refund`, `/recurrent` and `/cancel`: a form
// (application/x-www-form-urlencoded, CloudPayments' default) or a JSON object, signed by `Content-HMAC`,
// the standard Base64 of HMAC-SHA256 over the body's bytes as received, keyed with the site's API Secret.
// When `Content-HMAC` is absent, `X-Content-HMAC` is checked instead: the same HMAC over the body after
// percent-decoding ('+' a space), a reading of third-party notes, since CloudPayments publishes no
// decoding rules for it.
//
// Answers, always `application/json`:
//   200 {"code":0}    stored (every type but Check); Check: the shop accepted (through decided());
//   200 {"code":N}    Check refused through decided(): N is the app's code when it is one of CloudPayments'
//                     (10, 11, 12, 13, 20), else 13;
//   403 {"code":13}   no HMAC header, or one that does not match (outcome "forged");
//   400 {"code":13}   a signed body that is not a form or a JSON object, or lacks the notification's id;
//   503 {"code":13}   with Retry-After: the event could not be stored (unavailable()).
// Code 13 ("payment cannot be accepted") in every refusal, so that a Check is never taken for accepted.
//
// Events: type "cloudpayments.<kind>" (check, pay, fail, confirm, refund, recurrent, cancel). Idempotency
// "<kind>:<TransactionId>"; Recurrent "recurrent:<Id>:<Status>:<SuccessfulTransactionsNumber>:
// <FailedTransactionsNumber>" (a subscription's state changes are each news, its repeats are not). Check is a
// Decide stored for audit only; the rest are Accepts. Data: every field under its snake_case name
// (TransactionId → transaction_id), form values as strings, JSON numbers as their decimal text, JSON objects
// and arrays as they are; a field whose name becomes "payment" or "check" (payhook's own members) gets a
// trailing "_".
class CloudPaymentsHandler final : public Handler {
 public:
  enum EndpointIndex : size_t {
    kCheck = 0,
    kPay = 1,
    kFail = 2,
    kConfirm = 3,
    kRefund = 4,
    kRecurrent = 5,
    kCancel = 6,
  };

  CloudPaymentsHandler(std::string route, Secret api_secret);

  std::vector<Endpoint> endpoints() const override;
  Verdict handle(size_t endpoint, const http::Request& request, int64_t now_ms) const override;
  // Check: {"code":0} on an acceptance, the app's code when CloudPayments knows it, 13 otherwise.
  http::Response decided(const Event& event, const Decision& decision) const override;
  // 503 with Retry-After and {"code":13}: CloudPayments documents no retries, and a Check must read as
  // refused whatever CloudPayments makes of the status.
  http::Response unavailable() const override;
  // Check and Pay of one transaction share the note "transaction:<TransactionId>": a Pay after a Check the
  // shop refused records it under data.check and warns "check_refused".
  std::string noteKey(const Event& event) const override;
  std::string annotate(Event& event, std::string_view note) const override;

 private:
  std::string route_;
  Secret api_secret_;
};

// Builds the handler from a route's `api_secret_file`. Errors are "key: message".
Result<std::unique_ptr<Handler>> makeCloudPaymentsHandler(const config::RouteConfig& route);

namespace cloudpayments {

// The `cloudpayments` provider: its keys and its handler.
Provider provider();

// The pieces, exposed for tests and the fuzz driver.

// Standard padded Base64 of HMAC-SHA256(key, message).
std::string hmacBase64(const Secret& key, std::string_view message);
// True when `header` is the Base64 of HMAC-SHA256(key, message); compared in constant time.
bool hmacMatches(const Secret& key, std::string_view message, std::string_view header);
// "TransactionId" → "transaction_id", "IpAddress" → "ip_address", "CardFirstSix" → "card_first_six".
std::string snakeCase(std::string_view name);
// The answer {"code":N} with `status`.
http::Response answer(int status, int code);
// The Check code for a decision: 0, the app's code when it is in CloudPayments' table, or 13.
int checkCode(const Decision& decision);

}  // namespace cloudpayments
}  // namespace payhook::handlers
