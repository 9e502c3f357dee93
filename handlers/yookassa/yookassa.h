// The `yookassa` route handler: YooKassa API v3 HTTP notifications (README "YooKassa").
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/event.h"
#include "common/result.h"
#include "config/config.h"
#include "handlers/handler.h"
#include "handlers/provider.h"
#include "handlers/yookassa/settings.h"

namespace payhook::handlers {

// `POST` on the route's path itself: {"type":"notification","event":"<object>.<status>","object":{...}}.
// YooKassa signs nothing, so what this accepts is only a claim: the route's source list (allow_ips, by
// default YooKassa's published networks, yookassa::kDefaultAllowIps) keeps strangers out, and the event is
// stored unverified with one job, the re-check through YooKassa's API (yookassa::makeRecheck), whose
// confirmation alone queues the route's targets. Answers an empty `200` once stored, also for a repeat; `400`
// for a body that is not such a notification (not JSON, `type` not "notification", an event whose object is
// not payment, refund, payout or deal, an object without a usable id or whose status is not the event's).
// Nothing is stored for a refusal.
//
// Type "yookassa.<event>" (yookassa.payment.succeeded, ...), idempotency key "<event>:<id>:<status>", so a
// repeat is stored once. Data: "event", "object_type", "id", "status" and the object as it came, under
// "object"; once confirmed, the API's object replaces it and "recheck" says when.
class YooKassaHandler final : public Handler {
 public:
  explicit YooKassaHandler(std::string route);

  std::vector<Endpoint> endpoints() const override;
  Verdict handle(size_t endpoint, const http::Request& request, int64_t now_ms) const override;
  bool verifiesFirst() const override { return true; }
  std::vector<std::string> defaultAllowIps() const override;

 private:
  std::string route_;
};

// Builds the handler from a route's keys. Errors are "key: message".
Result<std::unique_ptr<Handler>> makeYooKassaHandler(const config::RouteConfig& route);

namespace yookassa {

// YooKassa's published source networks (its "Проверка подлинности" list).
inline constexpr const char* kDefaultAllowIps[] = {"185.71.76.0/27",   "185.71.77.0/27", "77.75.153.0/25",
                                                   "77.75.154.128/25", "77.75.156.11",   "77.75.156.35",
                                                   "2a02:5180::/32"};

// The event a notification announces, unverified and without id, received_at or raw request; an error
// (for the log, quoting the untrusted text clipped) when the body is not a usable notification.
Result<Event> eventOf(std::string_view route, std::string_view body);

// The event's data for `object` (a JSON object's text) of the announced `event` ("payment.succeeded"),
// and its listing. `recheck_json` (a JSON object's text, or empty) goes under "recheck".
struct Normalised {
  std::string data_json;
  EventListing listing;
};
Result<Normalised> normalise(std::string_view event, std::string_view object_json,
                             std::string_view recheck_json);

// "Basic base64(shop_id:secret_key)": the shop's credentials for the API (re-check and status requests).
// Secret material: it goes into a request's headers and nowhere else.
std::string authorizationOf(const Settings& settings);

// "/v3/payments/<id>" (refund.* → /v3/refunds, payout.* → /v3/payouts, deal.* → /v3/deals) for a stored
// event's data; an error when it names no object.
Result<std::string> apiPath(std::string_view data_json);

// How an answer of the API to apiPath() settles the stored event (handlers::Recheck::judge()).
Recheck::Outcome judge(const Event& event, int status, std::string_view body, int64_t now_ms);

// The `yookassa` provider: its keys, its handler and its re-check.
Provider provider();

}  // namespace yookassa

}  // namespace payhook::handlers
