#include "handlers/yookassa/status.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/untrusted_text.h"
#include "handlers/yookassa/settings.h"
#include "handlers/yookassa/yookassa.h"

namespace payhook::handlers::yookassa {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxId = 64;  // as the handler: YooKassa's ids are 36 to 40 characters

bool isId(std::string_view s) {
  return !s.empty() && s.size() <= kMaxId && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

std::string stringAt(const Json& j, const char* key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::string outcomeOfPaymentStatus(std::string_view status) {
  if (status == "succeeded") return "succeeded";
  if (status == "waiting_for_capture") return "held";
  if (status == "canceled") return "failed";
  return {};
}

OrderRef orderRefOfPayment(std::string_view id, std::string_view status, bool reconciliation) {
  OrderRef ref;
  ref.keys = {std::string(id)};
  ref.state = outcomeOfPaymentStatus(status);
  ref.final = !ref.state.empty() && ref.state != "held";
  ref.reconciliation = reconciliation;
  return ref;
}

std::string YooKassaStatusSource::checkOrder(std::string_view order) const {
  // The id goes into the URL path as it is: nothing that could leave /v3/payments/.
  if (!isId(order)) return "a YooKassa payment id: up to 64 letters, digits, '-' and '_'";
  return {};
}

StatusRequest YooKassaStatusSource::request(std::string_view order) const {
  StatusRequest r;
  r.method = "GET";
  r.url = options_.api_base + "/v3/payments/" + std::string(order);
  r.headers.push_back({"authorization", options_.authorization});
  r.headers.push_back({"accept", "application/json"});
  return r;
}

StatusAnswer YooKassaStatusSource::answer(std::string_view route, std::string_view order, int http_status,
                                          std::string_view body) const {
  StatusAnswer a;
  if (http_status == 0) {
    a.error = "no answer";
    return a;
  }
  if (http_status == 401 || http_status == 403) {
    a.error = "the API refused the shop's credentials (HTTP " + std::to_string(http_status) +
              "): check the route's shop_id and secret_key_file";
    return a;
  }
  if (http_status < 200 || http_status > 299) {
    // A 404 stays a failure like any other: asked again until the retry policy gives the payment up, so a
    // wrong api_base or a proxy's 404 ends in the dead set, where an operator sees it, not in silence.
    a.error = "HTTP " + std::to_string(http_status);
    if (http_status == 404) a.error += " (the API knows no such payment)";
    return a;
  }
  Json object = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!object.is_object()) {
    a.error = "the answer is not a JSON object";
    return a;
  }
  if (stringAt(object, "id") != order) {
    a.error = "the answer is not payment " + std::string(order);
    return a;
  }
  const std::string status = stringAt(object, "status");
  if (status.empty()) {
    a.error = "the answer has no status";
    return a;
  }
  a.status = "status " + quoteUntrusted(status, 64);
  const std::string outcome = outcomeOfPaymentStatus(status);
  if (outcome.empty()) {
    a.kind = StatusAnswer::Kind::kPending;
    return a;
  }
  // The data of a notification of this status, confirmed: an app reads both with the same code.
  auto normalised =
      normalise("payment." + status, object.dump(-1, ' ', false, Json::error_handler_t::replace), {});
  if (!normalised) {
    a.error = "the answer could not be normalised: " + normalised.error().message;
    return a;
  }
  a.kind = outcome == "held" ? StatusAnswer::Kind::kHeld : StatusAnswer::Kind::kFinal;
  Json data = Json::parse(normalised->data_json, nullptr, false);
  data["expected_order"] = std::string(order);
  data["source"] = "reconciliation";

  Event& e = a.event;
  e.route = std::string(route);
  e.provider = "yookassa";
  e.type = eventType();
  // Asked of the API with the shop's credentials: what the re-check would have confirmed.
  e.verified = true;
  e.idempotency_key = "status:" + std::string(order) + ":" + status;
  e.listing = std::move(normalised->listing);
  e.data_json = data.dump(-1, ' ', false, Json::error_handler_t::replace);
  e.raw.method = "GET";
  e.raw.path = "/v3/payments/" + std::string(order);
  e.raw.content_type = "application/json";
  e.raw.body = std::string(body);  // the API's answer; the request, with its credentials, is not kept
  e.order = orderRefOfPayment(order, status, /*reconciliation=*/true);
  return a;
}

std::shared_ptr<const StatusSource> makeStatusSource(const config::RouteConfig& route) {
  const auto* s = route.settingsAs<Settings>();
  if (s == nullptr || s->shop_id.empty() || s->secret_key.empty()) return nullptr;
  YooKassaStatusSource::Options o;
  o.api_base = s->api_base;
  o.authorization = authorizationOf(*s);
  o.poll = s->poll;
  return std::make_shared<YooKassaStatusSource>(std::move(o));
}

}  // namespace payhook::handlers::yookassa
