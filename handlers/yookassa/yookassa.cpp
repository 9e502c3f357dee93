#include "handlers/yookassa/yookassa.h"

#include <sodium.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/time_format.h"
#include "common/untrusted_text.h"
#include "handlers/listing.h"
#include "handlers/payment.h"
#include "handlers/yookassa/status.h"

namespace payhook::handlers {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxId = 64;     // YooKassa's ids are 36 to 40 characters; the id goes into a URL path
constexpr size_t kMaxName = 64;   // an object or status name: it becomes part of the event type
constexpr size_t kMaxDepth = 32;  // YooKassa's objects nest three or four levels
constexpr size_t kMaxNote = 300;  // an operator's note quoting the API

// The objects whose notifications can be re-checked, and where the API keeps them.
struct ObjectKind {
  std::string_view name;
  std::string_view collection;
};
constexpr ObjectKind kObjects[] = {
    {"payment", "payments"}, {"refund", "refunds"}, {"payout", "payouts"}, {"deal", "deals"}};

const ObjectKind* objectKind(std::string_view name) {
  for (const auto& k : kObjects)
    if (k.name == name) return &k;
  return nullptr;
}

Reject malformed(std::string reason) {
  return Reject{http::Response::text(400, "bad request\n"), std::move(reason), "malformed"};
}

bool isIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}
// Letters, digits, '-' and '_': an id goes into the API's URL path and the idempotency key as it is.
bool isId(std::string_view s) {
  return !s.empty() && s.size() <= kMaxId && std::all_of(s.begin(), s.end(), isIdChar);
}
bool isName(std::string_view s) {
  return !s.empty() && s.size() <= kMaxName &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
}

// nlohmann::json parses and frees recursively: a body nested deeper than any notification is refused first.
bool nestsTooDeep(std::string_view text) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxDepth) return true;
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return false;
}

Json parseObject(std::string_view text) {
  if (nestsTooDeep(text)) return Json();
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : Json();
}

std::string stringAt(const Json& j, const char* key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// data.payment (README, "The normalised payment") from a payment, refund, payout or deal object.
Payment paymentOf(std::string_view object_type, const Json& object) {
  Payment p;
  const std::string status = stringAt(object, "status");
  if (object_type == "payment") {
    if (status == "succeeded")
      p.outcome = Outcome::kSucceeded;
    else if (status == "waiting_for_capture")
      p.outcome = Outcome::kHeld;
    else if (status == "canceled")
      p.outcome = Outcome::kFailed;
    p.provider_payment_id = stringAt(object, "id");
  } else if (object_type == "refund") {
    if (status == "succeeded") p.outcome = Outcome::kRefunded;
    if (std::string id = stringAt(object, "payment_id"); !id.empty()) p.provider_payment_id = std::move(id);
  }
  if (auto amount = object.find("amount"); amount != object.end() && amount->is_object()) {
    if (std::string currency = stringAt(*amount, "currency"); !currency.empty()) {
      if (auto alpha = money::currencyAlpha(currency)) p.currency = *alpha;
    }
    if (std::string value = stringAt(*amount, "value"); !value.empty()) p.setMajorAmount(value);
  }
  if (auto metadata = object.find("metadata"); metadata != object.end() && metadata->is_object()) {
    if (auto order = metadata->find("order_id"); order != metadata->end()) {
      if (order->is_string() && !order->get<std::string>().empty())
        p.order_id = order->get<std::string>();
      else if (order->is_number_integer() || order->is_number_unsigned())
        p.order_id = order->dump();
    }
  }
  if (auto test = object.find("test"); test != object.end() && test->is_boolean()) p.test = test->get<bool>();
  return p;
}

// `event` split at its first '.': the object's type and the status it announces.
std::pair<std::string_view, std::string_view> splitEvent(std::string_view event) {
  const size_t dot = event.find('.');
  if (dot == std::string_view::npos) return {event, {}};
  return {event.substr(0, dot), event.substr(dot + 1)};
}

std::string basicAuthorization(std::string_view user, std::string_view password) {
  std::string plain;
  plain.reserve(user.size() + 1 + password.size());
  plain.append(user).push_back(':');
  plain.append(password);
  std::string out(sodium_base64_ENCODED_LEN(plain.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(plain.data()),
                    plain.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.find('\0'));
  sodium_memzero(plain.data(), plain.size());
  return "Basic " + out;
}

class YooKassaRecheck final : public Recheck {
 public:
  explicit YooKassaRecheck(const yookassa::Settings& s)
      : api_base_(s.api_base), authorization_(yookassa::authorizationOf(s)) {}

  Result<Call> request(const Event& event) const override {
    auto path = yookassa::apiPath(event.data_json);
    if (!path) return path.error();
    Call call;
    call.url = api_base_ + *path;
    call.headers.push_back({"authorization", authorization_});
    call.headers.push_back({"accept", "application/json"});
    return call;
  }

  Outcome judge(const Event& event, int status, std::string_view body, int64_t now_ms) const override {
    return yookassa::judge(event, status, body, now_ms);
  }

 private:
  std::string api_base_;
  std::string authorization_;
};

}  // namespace

YooKassaHandler::YooKassaHandler(std::string route) : route_(std::move(route)) {}

std::vector<Endpoint> YooKassaHandler::endpoints() const {
  return {{"", {"POST"}}};
}

std::vector<std::string> YooKassaHandler::defaultAllowIps() const {
  return {std::begin(yookassa::kDefaultAllowIps), std::end(yookassa::kDefaultAllowIps)};
}

Verdict YooKassaHandler::handle(size_t /*endpoint*/, const http::Request& request, int64_t /*now_ms*/) const {
  auto event = yookassa::eventOf(route_, request.body);
  if (!event) return malformed(event.error().message);
  return Accept{std::move(*event), http::Response::text(200, "")};
}

namespace yookassa {

Result<Event> eventOf(std::string_view route, std::string_view body) {
  const Json n = parseObject(body);
  if (n.is_null()) return Error{"not a JSON object, or nested too deep"};
  if (stringAt(n, "type") != "notification")
    return Error{"type is not \"notification\": " + quoteUntrusted(stringAt(n, "type"))};
  const std::string name = stringAt(n, "event");
  const auto [object_type, announced] = splitEvent(name);
  if (!isName(object_type) || !isName(announced))
    return Error{"event is not <object>.<status>: " + quoteUntrusted(name)};
  if (!objectKind(object_type))
    return Error{"event of an object payhook cannot re-check: " + quoteUntrusted(name)};
  auto object = n.find("object");
  if (object == n.end() || !object->is_object()) return Error{"object missing or not an object"};
  const std::string id = stringAt(*object, "id");
  if (!isId(id)) return Error{"object.id missing or not an id: " + quoteUntrusted(id)};
  const std::string status = stringAt(*object, "status");
  // The key and the re-check take the status the event announces: an object that says otherwise is no
  // notification YooKassa sends.
  if (status != announced)
    return Error{"object.status " + quoteUntrusted(status) + " is not the event's " +
                 quoteUntrusted(announced)};

  auto normalised = normalise(name, dump(*object), {});
  if (!normalised) return normalised.error();
  Event ev;
  ev.type = "yookassa." + name;
  ev.route = std::string(route);
  ev.provider = "yookassa";
  ev.verified = false;  // until the API confirms it
  ev.idempotency_key = name + ":" + id + ":" + status;
  ev.data_json = std::move(normalised->data_json);
  ev.listing = std::move(normalised->listing);
  // A payment's notification settles the payment's expectation only once the API confirms it (judge()):
  // stored, it is only held back when reconciliation reported the state first.
  if (object_type == "payment") {
    ev.order = orderRefOfPayment(id, status, /*reconciliation=*/false);
    ev.order.confirm_first = true;
  }
  return ev;
}

std::string authorizationOf(const Settings& settings) {
  return basicAuthorization(settings.shop_id, settings.secret_key.reveal());
}

Result<Normalised> normalise(std::string_view event, std::string_view object_json,
                             std::string_view recheck_json) {
  Json object = parseObject(object_json);
  if (object.is_null()) return Error{"object is not a JSON object"};
  const auto [object_type, announced] = splitEvent(event);
  Json data = Json::object();
  data["event"] = event;
  data["object_type"] = object_type;
  data["id"] = stringAt(object, "id");
  data["status"] = stringAt(object, "status");
  const Payment payment = paymentOf(object_type, object);
  data["object"] = std::move(object);
  if (!recheck_json.empty()) data["recheck"] = parseObject(recheck_json);
  Normalised out;
  out.listing = listingOf("yookassa", data, payment);
  out.data_json = dump(data);
  payment.addTo(out.data_json);
  return out;
}

Result<std::string> apiPath(std::string_view data_json) {
  const Json data = parseObject(data_json);
  const ObjectKind* kind = objectKind(stringAt(data, "object_type"));
  const std::string id = stringAt(data, "id");
  if (kind == nullptr || !isId(id)) return Error{"the stored event names no YooKassa object to re-check"};
  return "/v3/" + std::string(kind->collection) + "/" + id;
}

Recheck::Outcome judge(const Event& event, int status, std::string_view body, int64_t now_ms) {
  using Kind = Recheck::Outcome::Kind;
  Recheck::Outcome out;
  const Json data = parseObject(event.data_json);
  // The notification's own listing, marked: it settled nothing.
  auto refuted = [&](std::string note) {
    out.kind = Kind::kRefuted;
    out.note = std::move(note);
    out.event = event;
    out.event.listing = listingOf("yookassa", data);
    out.event.listing.status += " (refuted)";
    out.event.listing.outcome = outcomeName(Outcome::kPending);
    return out;
  };
  const std::string name = stringAt(data, "event");
  const std::string object_type = stringAt(data, "object_type");
  const std::string id = stringAt(data, "id");
  const std::string announced = stringAt(data, "status");
  const std::string what = object_type + " " + id;
  // Only YooKassa's own "not_found" proves the object does not exist: a 404 of a wrong api_base or of a
  // proxy in between must not refute every notification for good.
  if (status == 404 && stringAt(parseObject(body), "code") == "not_found")
    return refuted("the API has no " + what + " (HTTP 404); the notification said " + announced);
  if (status == 401 || status == 403) {
    out.note = "the API refused the shop's credentials (HTTP " + std::to_string(status) +
               "): check the route's shop_id and secret_key_file";
    return out;
  }
  if (status < 200 || status > 299) {
    out.note = status == 0 ? "no answer from the API" : "the API answered HTTP " + std::to_string(status);
    return out;
  }
  Json object = parseObject(body);
  if (object.is_null()) {
    out.note = "the API's answer is not a JSON object";
    return out;
  }
  if (stringAt(object, "id") != id) {
    out.note = "the API's answer is not " + what;
    return out;
  }
  const std::string actual = stringAt(object, "status");
  if (actual.empty()) {
    out.note = "the API's answer has no status";
    return out;
  }
  if (actual != announced) {
    return refuted(truncateUtf8("the API reports " + what + " as " + quoteUntrusted(actual, 64) +
                                    "; the notification said " + announced + ": not forwarded",
                                kMaxNote));
  }
  Json recheck = Json::object();
  recheck["confirmed_at"] = formatIso8601Utc(now_ms);
  recheck["source"] = "api";
  auto normalised = normalise(name, dump(object), dump(recheck));
  if (!normalised) {
    out.note = "the API's answer could not be normalised: " + normalised.error().message;
    return out;
  }
  out.kind = Kind::kConfirmed;
  out.event = event;
  out.event.verified = true;
  // The confirmed state closes (or, held, marks) the payment's expectation (README "Expected payments").
  if (object_type == "payment") {
    out.event.order = orderRefOfPayment(id, actual, /*reconciliation=*/false);
    out.event.order.confirm_first = true;
  }
  out.event.data_json = std::move(normalised->data_json);
  out.event.listing = std::move(normalised->listing);
  out.note = "confirmed by the API at " + formatIso8601Utc(now_ms);
  return out;
}

Provider provider() {
  Provider p{providerConfig(), makeYooKassaHandler};
  p.recheck = [](const config::RouteConfig& route) -> std::shared_ptr<const Recheck> {
    const auto* settings = route.settingsAs<Settings>();
    if (settings == nullptr || settings->shop_id.empty() || settings->secret_key.empty()) return nullptr;
    return std::make_shared<YooKassaRecheck>(*settings);
  };
  p.status_source = makeStatusSource;
  return p;
}

}  // namespace yookassa

Result<std::unique_ptr<Handler>> makeYooKassaHandler(const config::RouteConfig& route) {
  const auto* settings = route.settingsAs<yookassa::Settings>();
  if (settings == nullptr) return Error{"provider: the route's settings are not yookassa's"};
  if (settings->shop_id.empty()) return Error{"shop_id: must not be empty"};
  if (settings->secret_key.empty()) return Error{"secret_key_file: the shop's secret key must not be empty"};
  return std::unique_ptr<Handler>(std::make_unique<YooKassaHandler>(route.name));
}

}  // namespace payhook::handlers
