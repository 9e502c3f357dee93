#include "handlers/payinpayout/payinpayout.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <utility>

#include "common/text.h"
#include "handlers/digest.h"
#include "handlers/listing.h"
#include "handlers/payment.h"

namespace payhook::handlers {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kInvoiceResult = "payinpayout.invoice_result";
constexpr std::string_view kTopup = "payinpayout.topup";

// 10^15 seconds is far beyond any real clock, and times 1000 still fits an int64.
constexpr int64_t kMaxTimestampS = 1'000'000'000'000'000;

http::Response answer(int status, bool result) {
  return http::Response{
      status, "application/json", result ? R"({"result": true})" : R"({"result": false})", {}, false};
}

Reject malformed(std::string reason) {
  return Reject{answer(400, false), std::move(reason), "malformed"};
}

Reject forged(std::string reason) {
  return Reject{answer(403, false), std::move(reason), "forged"};
}

// PHP's ksort(..., SORT_STRING | SORT_FLAG_CASE): bytes compared as unsigned after ASCII lower-casing, a
// prefix first. Keys equal under this order are refused before sorting, so the order is total.
bool lessIgnoringCase(std::string_view a, std::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(lowerAscii(a[i]));
    const auto y = static_cast<unsigned char>(lowerAscii(b[i]));
    if (x != y) return x < y;
  }
  return a.size() < b.size();
}

// One top-level field of the body, in the order it came.
struct Field {
  enum class Kind { kString, kInteger, kFloat, kBool, kNull };
  std::string key;
  Kind kind = Kind::kString;
  std::string text;   // a string's value; an integer in decimal; a float as the body spells it; "1"/"0"
  double number = 0;  // kFloat
};

struct Body {
  std::vector<Field> fields;  // in request order
  bool has_float = false;

  const Field* find(std::string_view key) const {
    for (const auto& f : fields)
      if (f.key == key) return &f;
    return nullptr;
  }
};

// Reads a flat JSON object into fields in request order, keeping each float's own spelling (the DOM would
// reorder the keys and forget how a number was written). A nested container stops the parse as it opens,
// so a deeply nested body costs no memory and no recursion.
class FlatObjectReader final : public nlohmann::json_sax<Json> {
 public:
  explicit FlatObjectReader(Body* body) : body_(body) {}
  bool nested = false;

  bool null() override { return add(Field::Kind::kNull, {}); }
  bool boolean(bool v) override { return add(Field::Kind::kBool, v ? "1" : "0"); }
  bool number_integer(number_integer_t v) override { return add(Field::Kind::kInteger, std::to_string(v)); }
  bool number_unsigned(number_unsigned_t v) override { return add(Field::Kind::kInteger, std::to_string(v)); }
  bool number_float(number_float_t v, const string_t& s) override {
    body_->has_float = true;
    if (!add(Field::Kind::kFloat, s)) return false;
    body_->fields.back().number = v;
    return true;
  }
  bool string(string_t& v) override { return add(Field::Kind::kString, std::move(v)); }
  bool binary(binary_t& /*v*/) override { return false; }
  bool start_object(std::size_t /*n*/) override { return open(); }
  bool start_array(std::size_t /*n*/) override { return depth_ == 0 ? false : open(); }
  bool end_object() override { return --depth_, true; }
  bool end_array() override { return false; }
  bool key(string_t& k) override {
    pending_key_ = std::move(k);
    return true;
  }
  bool parse_error(std::size_t /*pos*/, const std::string& /*token*/,
                   const nlohmann::detail::exception& /*e*/) override {
    return false;
  }

 private:
  bool open() {
    if (depth_ > 0) {
      nested = true;
      return false;
    }
    ++depth_;
    return true;
  }
  bool add(Field::Kind kind, std::string text) {
    if (depth_ != 1) return false;  // a scalar as the whole body
    body_->fields.push_back(Field{std::move(pending_key_), kind, std::move(text), 0});
    return true;
  }

  Body* body_;
  int depth_ = 0;
  std::string pending_key_;
};

// A body that does not start as JSON does is read as a form: Payin-payout's pages show both.
bool looksLikeJson(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && (text[first] == '{' || text[first] == '[' || text[first] == '"');
}

Result<Body> parseBody(std::string_view text) {
  Body body;
  if (looksLikeJson(text)) {
    FlatObjectReader reader(&body);
    if (!Json::sax_parse(text, &reader, nlohmann::detail::input_format_t::json, /*strict=*/true))
      return Error{reader.nested ? "body has a nested object or array" : "body is not a JSON object"};
  } else {
    auto form = Form::parse(text);
    if (!form) return Error{"body is neither a JSON object nor a form: " + form.error().message};
    if (form->pairs().empty()) return Error{"body is empty"};
    for (const auto& [key, value] : form->pairs())
      body.fields.push_back(Field{key, Field::Kind::kString, value, 0});
  }
  std::vector<std::string> keys;
  keys.reserve(body.fields.size());
  for (const auto& f : body.fields) keys.push_back(lowerAscii(f.key));
  std::sort(keys.begin(), keys.end());
  if (std::adjacent_find(keys.begin(), keys.end()) != keys.end())
    return Error{"body repeats a key (or two keys differ only in case)"};
  return body;
}

std::string floatText(const Field& f, payinpayout::FloatForm form) {
  char buf[64];
  switch (form) {
    case payinpayout::FloatForm::kAsSent:
      return f.text;
    case payinpayout::FloatForm::kShortest: {
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, f.number);
      return ec == std::errc() ? std::string(buf, end) : f.text;
    }
    case payinpayout::FloatForm::kPrecision14:
      std::snprintf(buf, sizeof buf, "%.14G", f.number);
      return buf;
  }
  return f.text;
}

std::string messageOf(const Body& body, payinpayout::Order order, payinpayout::FloatForm floats) {
  std::vector<const Field*> signed_fields;
  signed_fields.reserve(body.fields.size());
  for (const auto& f : body.fields)
    if (f.key != "hash" && f.key != "tracker" && f.kind != Field::Kind::kNull) signed_fields.push_back(&f);
  if (order == payinpayout::Order::kSorted)
    std::sort(signed_fields.begin(), signed_fields.end(),
              [](const Field* a, const Field* b) { return lessIgnoringCase(a->key, b->key); });
  std::string message;
  for (const Field* f : signed_fields) {
    if (!message.empty()) message += '&';
    message += payinpayout::phpUrlencode(f->key);
    message += '=';
    message += payinpayout::phpUrlencode(f->kind == Field::Kind::kFloat ? floatText(*f, floats) : f->text);
  }
  return message;
}

// True when `hash` matches the body in either order and, for a body with floats, any float spelling.
bool hashMatches(const Body& body, const Secret& key, std::string_view hash) {
  using payinpayout::FloatForm;
  using payinpayout::Order;
  std::vector<std::string> tried;
  for (Order order : {Order::kAsSent, Order::kSorted}) {
    for (FloatForm floats : {FloatForm::kAsSent, FloatForm::kShortest, FloatForm::kPrecision14}) {
      if (floats != FloatForm::kAsSent && !body.has_float) break;
      std::string message = messageOf(body, order, floats);
      if (std::find(tried.begin(), tried.end(), message) != tried.end()) continue;
      if (hexEqualsIgnoreCase(hmacMd5Hex(key, message, HexCase::kLower), hash)) return true;
      tried.push_back(std::move(message));
    }
  }
  return false;
}

// An id or code as text: a non-empty string, a non-negative integer in decimal, or a float with no
// fraction written as that integer ("1.0" is status 1).
bool idText(const Body& body, std::string_view name, std::string* out) {
  const Field* f = body.find(name);
  if (f == nullptr) return false;
  switch (f->kind) {
    case Field::Kind::kString:
      *out = f->text;
      return !out->empty();
    case Field::Kind::kInteger:
      *out = f->text;
      return !out->empty() && out->front() != '-';
    case Field::Kind::kFloat:
      if (!(f->number >= 0 && f->number < 1e18) ||
          f->number != static_cast<double>(static_cast<int64_t>(f->number)))
        return false;
      *out = std::to_string(static_cast<int64_t>(f->number));
      return true;
    case Field::Kind::kBool:
    case Field::Kind::kNull:
      return false;
  }
  return false;
}

bool allDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Unix seconds, as a string of digits or a number.
bool timestampSeconds(const Body& body, int64_t* out) {
  std::string text;
  if (!idText(body, "timestamp", &text) || !allDigits(text) || text.size() > 16) return false;
  *out = std::stoll(text);
  return *out <= kMaxTimestampS;
}

// The normalised payment (README, "The normalised payment"). Neither callback documents an amount; one sent
// anyway (with its currency) is passed on.
Payment paymentOf(const Body& body, bool invoice, std::string_view status) {
  Payment p;
  if (invoice)
    p.outcome = status == "1"                    ? Outcome::kSucceeded
                : status == "3" || status == "4" ? Outcome::kFailed
                                                 : Outcome::kPending;
  else
    p.outcome = status == "1" ? Outcome::kSucceeded : Outcome::kPending;
  std::string text;
  if (idText(body, "currency", &text)) p.currency = money::currencyAlpha(text);
  if (const Field* amount = body.find("amount");
      amount && (amount->kind == Field::Kind::kString || amount->kind == Field::Kind::kInteger ||
                 amount->kind == Field::Kind::kFloat))
    p.setMajorAmount(amount->text);
  if (invoice && idText(body, "external_id", &text)) p.order_id = text;
  if (idText(body, "payment_in_id", &text)) p.provider_payment_id = text;
  return p;
}

}  // namespace

namespace payinpayout {

Result<std::string> signedMessage(std::string_view body, Order order, FloatForm floats) {
  auto parsed = parseBody(body);
  if (!parsed) return parsed.error();
  return messageOf(*parsed, order, floats);
}

}  // namespace payinpayout

PayinPayoutHandler::PayinPayoutHandler(std::string route, Secret key, uint64_t timestamp_tolerance_ms)
    : route_(std::move(route)), key_(std::move(key)), tolerance_ms_(timestamp_tolerance_ms) {}

std::vector<Endpoint> PayinPayoutHandler::endpoints() const {
  return {{"/callback", {"POST"}}, {"/topup", {"POST"}}};
}

Verdict PayinPayoutHandler::handle(size_t endpoint, const http::Request& request, int64_t now_ms) const {
  const bool invoice = endpoint == 0;
  auto body = parseBody(request.body);
  if (!body) return malformed(body.error().message);

  const Field* hash = body->find("hash");
  if (hash == nullptr || hash->kind != Field::Kind::kString) return malformed("hash missing or not a string");
  if (!hashMatches(*body, key_, hash->text)) return forged("bad hash");

  int64_t ts = 0;
  if (!timestampSeconds(*body, &ts)) return malformed("timestamp missing or not Unix seconds");
  // Either way: a timestamp far in the future is a captured request held back for later just the same.
  const int64_t skew = now_ms - ts * 1000;
  const auto tolerance = static_cast<int64_t>(std::min<uint64_t>(tolerance_ms_, kMaxTimestampS));
  const bool stale = skew > tolerance || skew < -tolerance;

  // The signature does not say which endpoint a body was meant for, so its shape must: otherwise a signed
  // invoice result replayed at /topup (every one carries payment_in_id) would become a second, fake top-up.
  const bool invoice_shape = body->find("external_id") || body->find("status");
  const bool topup_shape = body->find("payment_in_status") != nullptr;
  if (invoice ? (topup_shape || !invoice_shape) : (invoice_shape || !topup_shape))
    return malformed(invoice ? "not an invoice result (a top-up body?)"
                             : "not a top-up (an invoice result body?)");

  Event ev;
  std::string status;
  if (invoice) {
    std::string external_id;
    if (!idText(*body, "external_id", &external_id)) return malformed("external_id missing");
    // Digits only, so the last ':' of the key always separates the two parts.
    if (!idText(*body, "status", &status) || !allDigits(status)) return malformed("status missing");
    ev.type = kInvoiceResult;
    ev.idempotency_key = "invoice:" + external_id + ":" + status;
  } else {
    std::string payment_in_id;
    if (!idText(*body, "payment_in_id", &payment_in_id)) return malformed("payment_in_id missing");
    idText(*body, "payment_in_status", &status);
    ev.type = kTopup;
    ev.idempotency_key = "topup:" + payment_in_id;
  }

  // Amounts, ids and codes travel as text: an integer becomes its decimal string, a float its spelling in
  // the body. Booleans and nulls stay.
  // The hash covers every field but `tracker`, which goes under "unsigned" so that no app mistakes it for a
  // verified value; "payment" and "unsigned" are payhook's own keys in data.
  Json data = Json::object();
  Json unsigned_fields = Json::object();
  for (const auto& f : body->fields) {
    if (f.key == "hash") continue;
    if (f.key == "payment" || f.key == "unsigned") return malformed("a field name is reserved: " + f.key);
    Json& into = f.key == "tracker" ? unsigned_fields : data;
    switch (f.kind) {
      case Field::Kind::kBool:
        into[f.key] = f.text == "1";
        break;
      case Field::Kind::kNull:
        into[f.key] = nullptr;
        break;
      default:
        into[f.key] = f.text;
    }
  }
  data["unsigned"] = std::move(unsigned_fields);
  const Payment payment = paymentOf(*body, invoice, status);
  ev.route = route_;
  ev.provider = "payinpayout";
  ev.verified = true;
  ev.listing = listingOf(ev.provider, data, payment);
  ev.data_json = data.dump(-1, ' ', false, Json::error_handler_t::replace);
  payment.addTo(ev.data_json);
  Accept accept{std::move(ev), answer(200, true)};
  if (stale)
    accept.unless_stored = forged("timestamp outside the tolerance, and not a repeat of a stored callback");
  return accept;
}

}  // namespace payhook::handlers

namespace payhook::handlers {

Result<std::unique_ptr<Handler>> makePayinPayoutHandler(const config::RouteConfig& route) {
  const auto* settings = route.settingsAs<payinpayout::Settings>();
  if (settings == nullptr) return Error{"provider: the route's settings are not payinpayout's"};
  if (settings->secret.empty() || settings->secret.front().empty())
    return Error{"secret_file: a payinpayout route needs the API secret"};
  return std::unique_ptr<Handler>(std::make_unique<PayinPayoutHandler>(route.name, settings->secret.front(),
                                                                       settings->timestamp_tolerance_ms));
}

Provider payinpayout::provider() {
  return {payinpayout::providerConfig(), makePayinPayoutHandler};
}

}  // namespace payhook::handlers
