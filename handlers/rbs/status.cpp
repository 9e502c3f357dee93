#include "handlers/rbs/status.h"

#include <nlohmann/json.hpp>

#include "handlers/listing.h"
#include "handlers/payment.h"
#include "handlers/rbs/rbs.h"
#include "handlers/rbs/settings.h"

namespace payhook::handlers::rbs {
namespace {

using nlohmann::json;

void appendEncoded(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
}

void appendPair(std::string& out, std::string_view name, std::string_view value) {
  if (!out.empty()) out += '&';
  out += name;
  out += '=';
  appendEncoded(out, value);
}

bool isHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// The gateway writes numbers as numbers or as strings, depending on the version of the method.
std::optional<int64_t> integerOf(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end()) return std::nullopt;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    if (!s.empty() && s.size() <= 18 && s.find_first_not_of("0123456789") == std::string::npos)
      return std::stoll(s);
  }
  return std::nullopt;
}

std::string textOf(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number()) return it->dump();
  return {};
}

// The mdOrder the answer names: attributes [{"name":"mdOrder","value":...}] in the extended answer.
std::string mdOrderOf(const json& answer) {
  auto it = answer.find("attributes");
  if (it == answer.end() || !it->is_array()) return {};
  for (const auto& a : *it)
    if (a.is_object() && textOf(a, "name") == "mdOrder") return textOf(a, "value");
  return {};
}

const char* stateName(int order_status) {
  switch (order_status) {
    case 0:
      return "created";
    case 1:
      return "approved";
    case 2:
      return "deposited";
    case 3:
      return "reversed";
    case 4:
      return "refunded";
    case 5:
      return "authorizing";
    case 6:
      return "declined";
  }
  return "unknown";
}

}  // namespace

std::string outcomeOfOrderStatus(int order_status) {
  switch (order_status) {
    case 1:
      return "held";
    case 2:
      return "succeeded";
    case 3:
      return "reversed";
    case 4:
      return "refunded";
    case 6:
      return "failed";
  }
  return {};
}

std::string_view orderParameter(std::string_view order) {
  // 8-4-4-4-12 hex digits: the gateway's own ids look so; the shop's numbers are its own choice.
  if (order.size() != 36) return "orderNumber";
  for (size_t i = 0; i < order.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? order[i] != '-' : !isHex(order[i])) return "orderNumber";
  }
  return "orderId";
}

StatusRequest RbsStatusSource::request(std::string_view order) const {
  StatusRequest r;
  r.method = "POST";
  r.url = options_.api_base;
  if (!r.url.empty() && r.url.back() == '/') r.url.pop_back();
  r.url += "/getOrderStatusExtended.do";
  r.headers.push_back({"content-type", "application/x-www-form-urlencoded"});
  if (!options_.token.empty()) {
    appendPair(r.body, "token", options_.token.reveal());
  } else {
    appendPair(r.body, "userName", options_.user_name);
    appendPair(r.body, "password", options_.password.reveal());
  }
  appendPair(r.body, orderParameter(order), order);
  return r;
}

StatusAnswer RbsStatusSource::answer(std::string_view route, std::string_view order, int http_status,
                                     std::string_view body) const {
  StatusAnswer a;
  if (http_status == 0) {
    a.error = "no answer";
    return a;
  }
  if (http_status < 200 || http_status > 299) {
    a.error = "HTTP " + std::to_string(http_status);
    return a;
  }
  json j = json::parse(body, nullptr, false);
  if (!j.is_object()) {
    a.error = "the answer is not a JSON object";
    return a;
  }
  // errorCode 0 (or absent) is success; anything else is the gateway refusing the request (unknown order,
  // bad credentials, access denied): asked again, since a fresh order may not be visible at once.
  if (auto code = integerOf(j, "errorCode"); code && *code != 0) {
    a.error = "errorCode " + std::to_string(*code);
    if (std::string m = textOf(j, "errorMessage"); !m.empty()) a.error += ": " + m.substr(0, 200);
    return a;
  }
  auto status = integerOf(j, "orderStatus");
  if (!status) {
    a.error = "the answer has no orderStatus";
    return a;
  }
  const int s = static_cast<int>(*status);
  a.status = "orderStatus " + std::to_string(s) + " (" + stateName(s) + ")";
  const std::string outcome = outcomeOfOrderStatus(s);
  if (outcome.empty()) {
    a.kind = StatusAnswer::Kind::kPending;
    return a;
  }
  a.kind = outcome == "held" ? StatusAnswer::Kind::kHeld : StatusAnswer::Kind::kFinal;

  const std::string order_number = textOf(j, "orderNumber");
  std::string md_order = mdOrderOf(j);
  if (md_order.empty() && orderParameter(order) == "orderId") md_order = std::string(order);

  Payment p;
  p.outcome = s == 1   ? Outcome::kHeld
              : s == 2 ? Outcome::kSucceeded
              : s == 3 ? Outcome::kReversed
              : s == 4 ? Outcome::kRefunded
                       : Outcome::kFailed;
  const std::string currency = textOf(j, "currency");
  p.currency =
      currency.empty() ? std::optional<std::string>(options_.currency) : money::currencyAlpha(currency);
  if (auto amount = integerOf(j, "amount")) p.setMinorAmount(*amount);
  if (!order_number.empty()) p.order_id = order_number;
  if (!md_order.empty()) p.provider_payment_id = md_order;

  json data = json::object();
  data["order_status"] = s;
  data["order_state"] = stateName(s);
  if (!md_order.empty()) data["md_order"] = md_order;
  if (!order_number.empty()) data["order_number"] = order_number;
  for (const char* name : {"amount", "currency", "actionCode", "actionCodeDescription", "errorCode"}) {
    auto it = j.find(name);
    if (it != j.end() && (it->is_string() || it->is_number())) data[snakeCase(name)] = *it;
  }
  data["expected_order"] = std::string(order);
  data["source"] = "reconciliation";

  Event& e = a.event;
  e.route = std::string(route);
  e.provider = "rbs";
  e.type = eventType();
  // Asked of the gateway over its API with the merchant's credentials: as trustworthy as a signed callback.
  e.verified = true;
  e.idempotency_key = "status:" + std::string(order) + ":" + std::to_string(s);
  e.listing = listingOf(e.provider, data, p);
  e.data_json = data.dump(-1, ' ', false, json::error_handler_t::replace);
  p.addTo(e.data_json);
  e.raw.method = "POST";
  e.raw.path = "/getOrderStatusExtended.do";
  e.raw.content_type = "application/json";
  e.raw.body = std::string(body);  // the gateway's answer; the request, with its credentials, is not kept
  e.order.keys = {std::string(order)};
  if (!md_order.empty() && md_order != order) e.order.keys.push_back(md_order);
  if (!order_number.empty() && order_number != order) e.order.keys.push_back(order_number);
  e.order.state = outcome;
  e.order.final = a.kind == StatusAnswer::Kind::kFinal;
  e.order.reconciliation = true;
  return a;
}

std::shared_ptr<const StatusSource> makeRbsStatusSource(const config::RouteConfig& route) {
  const auto* s = route.settingsAs<Settings>();
  if (s == nullptr || s->api_base.empty()) return nullptr;
  RbsStatusSource::Options o;
  o.api_base = s->api_base;
  o.user_name = s->api_user;
  o.password = s->api_password;
  o.token = s->api_token;
  o.currency = s->currency;
  o.poll = s->poll;
  return std::make_shared<RbsStatusSource>(std::move(o));
}

}  // namespace payhook::handlers::rbs
