#include "handlers/yoomoney/yoomoney.h"

#include "handlers/yoomoney/settings.h"

#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "handlers/charset.h"
#include "handlers/digest.h"
#include "handlers/form.h"
#include "handlers/listing.h"
#include "handlers/payment.h"
#include "handlers/xml_text.h"

namespace payhook::handlers {
namespace {

constexpr const char* kContentType = "application/xml; charset=utf-8";
constexpr size_t kMaxMessage = 255;     // the protocol's limit on `message`
constexpr size_t kMaxTechMessage = 64;  // and on `techMessage`

struct EndpointSpec {
  std::string_view action;   // the `action` the request must carry
  std::string_view element;  // the answer's root element
  std::string_view type;     // event type
};

constexpr EndpointSpec kSpecs[] = {
    {"checkOrder", "checkOrderResponse", "yoomoney.check_order"},
    {"paymentAviso", "paymentAvisoResponse", "yoomoney.payment_aviso"},
};

enum class Kind { kText, kInteger, kAmount };

struct Field {
  std::string_view name;   // as YooMoney sends it
  std::string_view snake;  // in the event's data
  Kind kind;
  // Required and checked: the fields the md5 covers. The others are unsigned, so their presence or shape
  // proves nothing, and refusing an aviso over one would cancel a payment the payer already made; they are
  // kept as sent when present.
  bool signed_field;
};

constexpr Field kFields[] = {
    {"requestDatetime", "request_datetime", Kind::kText, false},
    {"action", "action", Kind::kText, true},
    {"shopId", "shop_id", Kind::kInteger, true},
    {"shopArticleId", "shop_article_id", Kind::kText, false},
    {"invoiceId", "invoice_id", Kind::kInteger, true},
    {"orderNumber", "order_number", Kind::kText, false},
    {"customerNumber", "customer_number", Kind::kText, true},
    {"orderCreatedDatetime", "order_created_datetime", Kind::kText, false},
    {"orderSumAmount", "order_sum_amount", Kind::kAmount, true},
    {"orderSumCurrencyPaycash", "order_sum_currency_paycash", Kind::kInteger, true},
    {"orderSumBankPaycash", "order_sum_bank_paycash", Kind::kInteger, true},
    {"shopSumAmount", "shop_sum_amount", Kind::kText, false},
    {"shopSumCurrencyPaycash", "shop_sum_currency_paycash", Kind::kText, false},
    {"shopSumBankPaycash", "shop_sum_bank_paycash", Kind::kText, false},
    {"paymentPayerCode", "payment_payer_code", Kind::kText, false},
    {"paymentType", "payment_type", Kind::kText, false},
    {"paymentDatetime", "payment_datetime", Kind::kText, false},
};

constexpr std::string_view kMd5Field = "md5";

bool isDigits(std::string_view s, size_t max_len) {
  return !s.empty() && s.size() <= max_len &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Ids are 64-bit integers on YooMoney's side; 20 digits hold any of them, with or without leading zeros.
bool isInteger(std::string_view s) {
  return isDigits(s, 20);
}

// "87.10", "100", "0.5": digits with an optional fractional part, no sign, no exponent, no comma.
bool isAmount(std::string_view s) {
  const size_t dot = s.find('.');
  if (dot == std::string_view::npos) return isDigits(s, 18);
  return isDigits(s.substr(0, dot), 18) && isDigits(s.substr(dot + 1), 8);
}

bool wellFormed(Kind kind, std::string_view value) {
  switch (kind) {
    case Kind::kInteger:
      return isInteger(value);
    case Kind::kAmount:
      return isAmount(value);
    case Kind::kText:
      return true;
  }
  return false;
}

// "013" is shop 13 and "0092" invoice 92: ids compare and key as numbers.
std::string_view canonicalInteger(std::string_view digits) {
  const size_t first = digits.find_first_not_of('0');
  return first == std::string_view::npos ? digits.substr(0, digits.empty() ? 0 : 1) : digits.substr(first);
}

bool isSignedField(std::string_view name) {
  if (name == kMd5Field) return true;
  return std::any_of(std::begin(kFields), std::end(kFields),
                     [&](const Field& f) { return f.signed_field && f.name == name; });
}

// The demo currency of YooMoney's test mode: roubles that are not money.
constexpr std::string_view kDemoCurrency = "10643";

bool isZero(std::string_view amount) {
  return std::all_of(amount.begin(), amount.end(), [](char c) { return c == '0' || c == '.'; });
}

http::Response xmlReply(std::string body) {
  return http::Response{200, kContentType, std::move(body), {}, false};
}

// The request's value of an id attribute, when it is one: only a well-formed integer is echoed back.
std::string_view echoedId(const Form& form, std::string_view name) {
  const std::string* v = form.get(name);
  return v != nullptr && isInteger(*v) ? std::string_view(*v) : std::string_view();
}

}  // namespace

namespace yoomoney {

std::string performedDatetime(int64_t unix_ms) {
  using namespace std::chrono;
  // Outside years 1970..9999 the four-digit year of xs:dateTime would break; a real clock is never there.
  constexpr int64_t kMaxMs = 253402300799999;  // 9999-12-31T23:59:59.999Z
  unix_ms = std::clamp<int64_t>(unix_ms, 0, kMaxMs);
  const sys_time<milliseconds> t{milliseconds{unix_ms}};
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{t - day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03d+00:00", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()), static_cast<int>(hms.subseconds().count()));
  return buf;
}

std::string answerXml(std::string_view element, int64_t performed_ms, int code, std::string_view invoice_id,
                      std::string_view shop_id, std::string_view message, std::string_view tech_message) {
  std::string out = R"(<?xml version="1.0" encoding="UTF-8"?><)";
  out += element;
  out += " performedDatetime=\"" + performedDatetime(performed_ms) + "\"";
  out += " code=\"" + std::to_string(code) + "\"";
  // Ids are digits when they come from a request, but the escaping costs nothing and keeps this safe alone.
  if (!invoice_id.empty()) out += " invoiceId=\"" + xmlEscaped(invoice_id, kMaxTechMessage) + "\"";
  if (!shop_id.empty()) out += " shopId=\"" + xmlEscaped(shop_id, kMaxTechMessage) + "\"";
  if (!message.empty()) out += " message=\"" + xmlEscaped(message, kMaxMessage) + "\"";
  if (!tech_message.empty()) out += " techMessage=\"" + xmlEscaped(tech_message, kMaxTechMessage) + "\"";
  out += "/>";
  return out;
}

}  // namespace yoomoney

YooMoneyHandler::YooMoneyHandler(std::string route, std::string shop_id, Secret shop_password,
                                 uint64_t max_unsigned)
    : route_(std::move(route)),
      shop_id_(std::move(shop_id)),
      shop_password_(std::move(shop_password)),
      max_unsigned_(max_unsigned) {}

std::vector<Endpoint> YooMoneyHandler::endpoints() const {
  // Order matches EndpointIndex.
  return {{"/check", {"POST"}}, {"/aviso", {"POST"}}};
}

Verdict YooMoneyHandler::handle(size_t endpoint, const http::Request& request, int64_t now_ms) const {
  const EndpointSpec& spec = kSpecs[endpoint == kAviso ? kAviso : kCheck];
  // Refusals echo only ids that are well-formed integers, and a techMessage from this file, never the
  // request's own text. When an id cannot be read the attribute is left out: the seed document says
  // nothing about that case, and an empty or invented id would be a false statement.
  auto refuse = [&](int code, std::string_view invoice_id, std::string_view shop_id, std::string reason,
                    std::string outcome, std::string_view tech_message) -> Verdict {
    return Reject{
        xmlReply(yoomoney::answerXml(spec.element, now_ms, code, invoice_id, shop_id, {}, tech_message)),
        std::move(reason), std::move(outcome)};
  };

  // The body is parsed whatever its content-type says: YooMoney always sends a form, and anything that
  // is not one fails below on its missing fields with the protocol's own code 200. A repeated field is
  // kept (a shop's form may repeat its own fields); a repeated signed one is refused below.
  auto form = Form::parse(request.body, Form::Repeats::kKeep);
  if (!form)
    return refuse(200, {}, {}, "body: " + form.error().message, "malformed", "the body is not a form");
  const std::string_view invoice_id = echoedId(*form, "invoiceId");
  const std::string_view shop_id = echoedId(*form, "shopId");
  // Which copy of a repeated signed field would the md5 cover, and which would the shop act on?
  for (const auto& name : form->repeated())
    if (isSignedField(name))
      return refuse(200, invoice_id, shop_id, "repeated " + name, "malformed", "repeated field " + name);

  for (const Field& f : kFields) {
    if (!f.signed_field) continue;
    const std::string* v = form->get(f.name);
    if (v == nullptr)
      return refuse(200, invoice_id, shop_id, "missing " + std::string(f.name), "malformed",
                    "missing field " + std::string(f.name));
    if (!wellFormed(f.kind, *v))
      return refuse(200, invoice_id, shop_id, "not a number: " + std::string(f.name), "malformed",
                    "bad number in " + std::string(f.name));
  }
  const std::string* md5 = form->get(kMd5Field);
  if (md5 == nullptr)
    return refuse(200, invoice_id, shop_id, "missing md5", "malformed", "missing field md5");
  if (*form->get("action") != spec.action)
    return refuse(200, invoice_id, shop_id, "action does not match the endpoint", "malformed",
                  "action does not match the endpoint");

  // action;orderSumAmount;orderSumCurrencyPaycash;orderSumBankPaycash;shopId;invoiceId;customerNumber;password
  static constexpr std::string_view kSigned[] = {
      "action", "orderSumAmount", "orderSumCurrencyPaycash", "orderSumBankPaycash",
      "shopId", "invoiceId",      "customerNumber"};
  size_t size = shop_password_.size();
  for (auto name : kSigned) size += form->get(name)->size() + 1;
  std::string text;
  // Reserved once, so appending never reallocates and leaves a copy of the password behind unwiped.
  text.reserve(size);
  for (auto name : kSigned) {
    text += *form->get(name);
    text += ';';
  }
  text += shop_password_.reveal();
  const std::string expected = md5Hex(text, HexCase::kUpper);
  sodium_memzero(text.data(), text.size());
  if (!hexEqualsIgnoreCase(expected, *md5))
    return refuse(1, invoice_id, shop_id, "md5 mismatch", "forged", "md5 does not match");
  // The md5 covers shopId, but a password shared by two shops would let one shop's request pass here.
  if (canonicalInteger(*form->get("shopId")) != canonicalInteger(shop_id_))
    return refuse(1, invoice_id, shop_id, "shopId is not the route's shop_id", "forged",
                  "shopId does not match this route");

  // Anyone who saw a signed form can send it again with fields of their own: what they may add is bounded.
  uint64_t unsigned_bytes = 0;
  for (const auto& pair : form->pairs())
    if (!isSignedField(pair.first)) unsigned_bytes += pair.first.size() + pair.second.size();
  if (unsigned_bytes > max_unsigned_)
    return refuse(200, invoice_id, shop_id,
                  "unsigned fields of " + std::to_string(unsigned_bytes) + " bytes, over max_unsigned (" +
                      std::to_string(max_unsigned_) + ")",
                  "malformed", "unsigned fields too large");

  // A form from a windows-1251 page posts windows-1251 bytes: said in the content-type, or told by bytes that
  // are not UTF-8. The md5 above covered the bytes as sent; data carries the same characters in UTF-8, and
  // raw.body keeps the bytes.
  const std::string* content_type = request.header("content-type");
  const bool cp1251 = (content_type && namesCp1251(*content_type)) ||
                      std::any_of(form->pairs().begin(), form->pairs().end(),
                                  [](const auto& p) { return !isUtf8(p.first) || !isUtf8(p.second); });
  auto utf8 = [&](const std::string& v) { return cp1251 ? cp1251ToUtf8(v) : v; };

  // What the md5 covers at the top, and everything else under "unsigned", so an app cannot take an unsigned
  // value for a verified one by mistake.
  nlohmann::json data = nlohmann::json::object();
  nlohmann::json unsigned_fields = nlohmann::json::object();
  nlohmann::json custom = nlohmann::json::object();
  // A repeated field keeps every value, in order, as an array.
  auto put = [](nlohmann::json& into, const std::string& key, std::string value) {
    auto [it, inserted] = into.emplace(key, value);
    if (inserted) return;
    if (!it->is_array()) *it = nlohmann::json::array({std::move(*it)});
    it->push_back(std::move(value));
  };
  // Not a structured binding: clang before 16 refuses to capture one in the lambda.
  for (const auto& pair : form->pairs()) {
    const std::string& name = pair.first;
    if (name == kMd5Field) continue;
    auto known =
        std::find_if(std::begin(kFields), std::end(kFields), [&](const Field& f) { return f.name == name; });
    if (known == std::end(kFields))
      put(custom, utf8(name), utf8(pair.second));
    else
      put(known->signed_field ? data : unsigned_fields, std::string(known->snake), utf8(pair.second));
  }
  unsigned_fields["custom"] = std::move(custom);
  data["unsigned"] = std::move(unsigned_fields);

  const std::string& currency = *form->get("orderSumCurrencyPaycash");
  Payment payment;
  payment.test = currency == kDemoCurrency;
  payment.currency = payment.test ? std::optional<std::string>("RUB") : money::currencyAlpha(currency);
  payment.setMajorAmount(*form->get("orderSumAmount"));
  if (form->count("orderNumber") == 1) {
    payment.order_id = utf8(*form->get("orderNumber"));
    payment.unsigned_keys.push_back("order_id");
  }
  payment.provider_payment_id = std::string(canonicalInteger(invoice_id));
  if (endpoint == kAviso) {
    payment.outcome = Outcome::kSucceeded;
    if (isZero(*form->get("orderSumAmount"))) {
      payment.outcome = Outcome::kFailed;
      payment.warnings.push_back("zero_amount");
    }
  }

  Event ev;
  ev.type = spec.type;
  ev.route = route_;
  ev.provider = "yoomoney";
  ev.verified = true;
  ev.idempotency_key = std::string(spec.action) + ":" + std::string(canonicalInteger(invoice_id));
  ev.listing = listingOf(ev.provider, data, payment);
  // Bytes that are still not UTF-8 become U+FFFD here and stay exact in raw.body.
  ev.data_json = data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  payment.addTo(ev.data_json);

  if (endpoint == kAviso)
    return Accept{std::move(ev), xmlReply(yoomoney::answerXml(spec.element, now_ms, 0, invoice_id, shop_id))};
  return Decide{std::move(ev)};
}

http::Response YooMoneyHandler::decided(const Event& event, const Decision& decision) const {
  const EndpointSpec& spec = event.type == kSpecs[kAviso].type ? kSpecs[kAviso] : kSpecs[kCheck];
  std::string invoice_id, shop_id;
  const auto data = nlohmann::json::parse(event.data_json, nullptr, /*allow_exceptions=*/false);
  if (data.is_object()) {
    auto id = [&](const char* key) {
      auto it = data.find(key);
      return it != data.end() && it->is_string() && isInteger(it->get_ref<const std::string&>())
                 ? it->get<std::string>()
                 : std::string();
    };
    invoice_id = id("invoice_id");
    shop_id = id("shop_id");
  }
  const int64_t at = event.received_at_ms;
  switch (decision.kind) {
    case Decision::Kind::kAccept:
      return xmlReply(yoomoney::answerXml(spec.element, at, 0, invoice_id, shop_id));
    case Decision::Kind::kRefuse:
      // YooMoney knows one refusal code for a check; the app's own code is kept in the stored decision.
      return xmlReply(yoomoney::answerXml(
          spec.element, at, 100, invoice_id, shop_id,
          decision.message.empty() ? "the shop refused the order" : std::string_view(decision.message)));
    case Decision::Kind::kFailed:
      // What failed (a timeout, a refused connection) is for the shop's log, not for the payer's screen.
      return xmlReply(yoomoney::answerXml(spec.element, at, 100, invoice_id, shop_id,
                                          "the shop did not confirm the order in time"));
  }
  return xmlReply(yoomoney::answerXml(spec.element, at, 100, invoice_id, shop_id,
                                      "the shop did not confirm the order in time"));
}

std::string YooMoneyHandler::noteKey(const Event& event) const {
  // "checkOrder:92" and "paymentAviso:92" share the invoice's note.
  const size_t colon = event.idempotency_key.find(':');
  if (colon == std::string::npos) return {};
  const std::string_view rest = std::string_view(event.idempotency_key).substr(colon + 1);
  return "invoice:" + std::string(rest.substr(0, rest.find(':')));
}

std::string YooMoneyHandler::annotate(Event& event, std::string_view note) const {
  if (event.type != kSpecs[kAviso].type) return {};
  const size_t space = note.find(' ');
  const std::string decision(note.substr(0, space));
  // The daemon keeps refusals only (an acceptance removes the note); an "accept" here says nothing new.
  if (decision == "accept") return {};
  const std::string check_id(space == std::string_view::npos ? std::string_view() : note.substr(space + 1));
  auto data = nlohmann::json::parse(event.data_json, nullptr, /*allow_exceptions=*/false);
  if (!data.is_object()) return {};
  // YooMoney took the money although the shop said no (or said nothing in time) at checkOrder.
  data["check_order"] = {{"decision", decision}, {"event_id", check_id}};
  if (auto p = data.find("payment"); p != data.end() && p->is_object())
    (*p)["warnings"].push_back("check_refused");
  event.data_json = data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return "aviso for an invoice the shop refused at checkOrder: the payer was charged";
}

Result<std::unique_ptr<Handler>> makeYooMoneyHandler(const config::RouteConfig& route) {
  const auto* settings = route.settingsAs<yoomoney::Settings>();
  if (settings == nullptr) return Error{"provider: the route's settings are not yoomoney's"};
  // The request's shopId is compared with this as text, so it must be the same digits YooMoney sends.
  if (!isInteger(settings->shop_id)) return Error{"shop_id: must be the shop's numeric id (digits only)"};
  if (settings->shop_password.empty())
    return Error{"shop_password_file: the shop password must not be empty"};
  return std::unique_ptr<Handler>(std::make_unique<YooMoneyHandler>(
      route.name, settings->shop_id, settings->shop_password, settings->max_unsigned));
}

std::string YooMoneyHandler::storedBody(std::string&& body) const {
  // The form is already verified; only the md5 parameter's value goes, every other byte stays as received.
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find('&', pos);
    if (end == std::string::npos) end = body.size();
    if (body.compare(pos, 4, "md5=") == 0 && pos + 4 <= end) {
      body.erase(pos + 4, end - (pos + 4));
      end = pos + 4;
    }
    pos = end + 1;
  }
  return std::move(body);
}

Provider yoomoney::provider() {
  return {yoomoney::providerConfig(), makeYooMoneyHandler};
}

}  // namespace payhook::handlers
