#include "handlers/payinpayout.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "handlers/digest.h"

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

char lowerAscii(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lowerAscii(c);
  return out;
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

// A field's value as PHP's http_build_query prints it; false when it cannot be reproduced.
bool phpValue(const Json& v, std::string* out) {
  switch (v.type()) {
    case Json::value_t::string:
      *out = v.get_ref<const std::string&>();
      return true;
    case Json::value_t::number_integer:
      *out = std::to_string(v.get<int64_t>());
      return true;
    case Json::value_t::number_unsigned:
      *out = std::to_string(v.get<uint64_t>());
      return true;
    case Json::value_t::boolean:
      *out = v.get<bool>() ? "1" : "0";
      return true;
    default:
      return false;  // floats (PHP's float printing), and null, which the caller skips
  }
}

// A flat JSON object: every top-level key once (also ignoring case), every value a scalar, no floats.
struct Body {
  Json fields;
  std::string message;  // the signed message
};

Result<Body> parseBody(std::string_view text) {
  bool nested = false;
  std::vector<std::string> keys;
  // The callback sees each top-level key before nlohmann folds a repeated one into the last copy, and drops
  // nested containers as they open, so a deeply nested body costs no DOM and no recursion.
  auto callback = [&](int depth, Json::parse_event_t event, Json& parsed) {
    if ((event == Json::parse_event_t::object_start || event == Json::parse_event_t::array_start) &&
        depth > 0) {
      nested = true;
      return false;
    }
    if (event == Json::parse_event_t::key && depth == 1) keys.push_back(lowered(parsed.get<std::string>()));
    return true;
  };
  Body body;
  body.fields = Json::parse(text, callback, /*allow_exceptions=*/false);
  if (body.fields.is_discarded() || !body.fields.is_object()) return Error{"body is not a JSON object"};
  if (nested) return Error{"body has a nested object or array"};
  std::sort(keys.begin(), keys.end());
  if (std::adjacent_find(keys.begin(), keys.end()) != keys.end())
    return Error{"body repeats a key (or two keys differ only in case)"};

  std::vector<std::pair<std::string_view, std::string>> signed_fields;
  for (const auto& [key, value] : body.fields.items()) {
    if (value.is_number_float()) return Error{"field " + key + " is a float"};
    if (key == "hash" || key == "tracker" || value.is_null()) continue;
    std::string text_value;
    if (!phpValue(value, &text_value)) return Error{"field " + key + " is not a scalar"};
    signed_fields.emplace_back(key, std::move(text_value));
  }
  std::sort(signed_fields.begin(), signed_fields.end(),
            [](const auto& a, const auto& b) { return lessIgnoringCase(a.first, b.first); });
  for (const auto& [key, value] : signed_fields) {
    if (!body.message.empty()) body.message += '&';
    body.message += payinpayout::phpUrlencode(key);
    body.message += '=';
    body.message += payinpayout::phpUrlencode(value);
  }
  return body;
}

// An id or code as text: a non-empty string, or a non-negative integer in decimal.
bool idText(const Json& fields, std::string_view name, std::string* out) {
  auto it = fields.find(name);
  if (it == fields.end()) return false;
  if (it->is_string()) {
    *out = it->get<std::string>();
    return !out->empty();
  }
  if (it->is_number_unsigned() || (it->is_number_integer() && it->get<int64_t>() >= 0))
    return phpValue(*it, out);
  return false;
}

bool allDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Unix seconds, as a string of digits or an integer.
bool timestampSeconds(const Json& fields, int64_t* out) {
  std::string text;
  if (!idText(fields, "timestamp", &text) || !allDigits(text) || text.size() > 16) return false;
  *out = std::stoll(text);
  return *out <= kMaxTimestampS;
}

}  // namespace

namespace payinpayout {

Result<std::string> signedMessage(std::string_view body) {
  auto parsed = parseBody(body);
  if (!parsed) return parsed.error();
  return std::move(parsed->message);
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
  Json& fields = body->fields;

  auto hash = fields.find("hash");
  if (hash == fields.end() || !hash->is_string()) return malformed("hash missing or not a string");
  const std::string expected = hmacMd5Hex(key_, body->message, HexCase::kLower);
  if (!hexEqualsIgnoreCase(expected, hash->get_ref<const std::string&>())) return forged("bad hash");

  int64_t ts = 0;
  if (!timestampSeconds(fields, &ts)) return malformed("timestamp missing or not Unix seconds");
  // Either way: a timestamp far in the future is a captured request held back for later just the same.
  const int64_t skew = now_ms - ts * 1000;
  const auto tolerance = static_cast<int64_t>(std::min<uint64_t>(tolerance_ms_, kMaxTimestampS));
  if (skew > tolerance || skew < -tolerance) return forged("timestamp outside the tolerance");

  // The signature does not say which endpoint a body was meant for, so its shape must: otherwise a signed
  // invoice result replayed at /topup (every one carries payment_in_id) would become a second, fake top-up.
  const bool invoice_shape = fields.contains("external_id") || fields.contains("status");
  const bool topup_shape = fields.contains("payment_in_status");
  if (invoice ? (topup_shape || !invoice_shape) : (invoice_shape || !topup_shape))
    return malformed(invoice ? "not an invoice result (a top-up body?)"
                             : "not a top-up (an invoice result body?)");

  Event ev;
  if (invoice) {
    std::string external_id, status;
    if (!idText(fields, "external_id", &external_id)) return malformed("external_id missing");
    // Digits only, so the last ':' of the key always separates the two parts.
    if (!idText(fields, "status", &status) || !allDigits(status)) return malformed("status missing");
    ev.type = kInvoiceResult;
    ev.idempotency_key = "invoice:" + external_id + ":" + status;
  } else {
    std::string payment_in_id;
    if (!idText(fields, "payment_in_id", &payment_in_id)) return malformed("payment_in_id missing");
    ev.type = kTopup;
    ev.idempotency_key = "topup:" + payment_in_id;
  }

  // Amounts, ids and codes travel as text: an integer becomes its decimal string. Booleans and nulls stay.
  Json data = Json::object();
  for (auto& [key, value] : fields.items()) {
    if (key == "hash") continue;
    std::string text;
    if (value.is_number() && phpValue(value, &text))
      data[key] = std::move(text);
    else
      data[key] = std::move(value);
  }
  ev.route = route_;
  ev.provider = "payinpayout";
  ev.verified = true;
  ev.data_json = data.dump(-1, ' ', false, Json::error_handler_t::replace);
  return Accept{std::move(ev), answer(200, true)};
}

}  // namespace payhook::handlers

namespace payhook::handlers {

Result<std::unique_ptr<Handler>> makePayinPayoutHandler(const config::RouteConfig& route) {
  if (route.secret.empty() || route.secret.front().empty())
    return Error{"secret_file: a payinpayout route needs the API secret"};
  return std::unique_ptr<Handler>(
      std::make_unique<PayinPayoutHandler>(route.name, route.secret.front(), route.timestamp_tolerance_ms));
}

}  // namespace payhook::handlers
