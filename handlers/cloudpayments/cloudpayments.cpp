#include "handlers/cloudpayments/cloudpayments.h"

#include "handlers/cloudpayments/settings.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>

#include "common/base64.h"
#include "common/text.h"
#include "handlers/form.h"
#include "handlers/listing.h"
#include "handlers/payment.h"

namespace payhook::handlers {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kProvider = "cloudpayments";

struct EndpointSpec {
  std::string_view kind;  // the sub-path, the event type's suffix and the idempotency key's prefix
  std::string_view type;
};

// Order matches CloudPaymentsHandler::EndpointIndex.
constexpr EndpointSpec kSpecs[] = {
    {"check", "cloudpayments.check"},   {"pay", "cloudpayments.pay"},
    {"fail", "cloudpayments.fail"},     {"confirm", "cloudpayments.confirm"},
    {"refund", "cloudpayments.refund"}, {"recurrent", "cloudpayments.recurrent"},
    {"cancel", "cloudpayments.cancel"},
};

// CloudPayments' Check codes (two third-party copies of its docs agree; one SDK has 11 for a wrong amount
// and no 12, so the app's code is passed on as given rather than translated).
constexpr std::array<int, 5> kCheckCodes = {10, 11, 12, 13, 20};
constexpr int kCannotAccept = 13;

// An id is kept in idempotency keys and notes, where ':' separates the parts and the length is Redis's.
constexpr size_t kMaxId = 128;

Reject forged(std::string reason) {
  return Reject{cloudpayments::answer(403, kCannotAccept), std::move(reason), "forged"};
}

Reject malformed(std::string reason) {
  return Reject{cloudpayments::answer(400, kCannotAccept), std::move(reason), "malformed"};
}

bool usableId(std::string_view id) {
  return !id.empty() && id.size() <= kMaxId && std::none_of(id.begin(), id.end(), [](char c) {
    return c == ':' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

bool namesJson(const std::string* content_type) {
  return content_type != nullptr && lowerAscii(*content_type).find("json") != std::string::npos;
}

// A body that starts as a JSON object is one, whatever the content-type says: a form's first field name
// cannot start with '{' in practice, and reading JSON as a form would keep nothing useful.
bool looksLikeJson(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && text[first] == '{';
}

// A repeated name keeps every value, in order, as an array: the HMAC covers the whole body, so a repeat is
// CloudPayments' own and nothing of it is dropped.
void put(Json& into, const std::string& key, Json value) {
  auto [it, inserted] = into.emplace(key, value);
  if (inserted) return;
  if (!it->is_array()) *it = Json::array({std::move(*it)});
  it->push_back(std::move(value));
}

std::string dataKey(std::string_view name) {
  std::string key = cloudpayments::snakeCase(name);
  // payhook's own members of data (the normalised payment, a refused Check's note).
  if (key == "payment" || key == "check") key += '_';
  return key;
}

// The provider's fields as data: strings stay, JSON numbers and booleans become their text, so an amount
// reads the same from a form and from JSON; objects and arrays stay as sent.
Result<Json> dataOf(const http::Request& request) {
  Json data = Json::object();
  if (namesJson(request.header("content-type")) || looksLikeJson(request.body)) {
    Json body = Json::parse(request.body, nullptr, /*allow_exceptions=*/false);
    if (!body.is_object()) return Error{"body is not a JSON object"};
    for (auto& item : body.items()) {
      Json v = std::move(item.value());
      if (v.is_number() || v.is_boolean()) v = v.dump();
      put(data, dataKey(item.key()), std::move(v));
    }
    return data;
  }
  auto form = Form::parse(request.body, Form::Repeats::kKeep);
  if (!form) return Error{"body is neither a form nor a JSON object: " + form.error().message};
  for (const auto& pair : form->pairs()) put(data, dataKey(pair.first), pair.second);
  return data;
}

// A field's text: a string, or the first of a repeated one.
std::string text(const Json& data, const char* key) {
  auto it = data.find(key);
  if (it == data.end()) return {};
  const Json& v = it->is_array() && !it->empty() ? it->front() : *it;
  return v.is_string() ? v.get<std::string>() : std::string();
}

// Which HMAC header vouches for the body: Content-HMAC over the bytes, else X-Content-HMAC over the
// percent-decoded body. Nothing, with the reason, when neither does.
std::optional<std::string> unverified(const http::Request& request, const Secret& key) {
  if (request.headerCount("content-hmac") > 1 || request.headerCount("x-content-hmac") > 1)
    return "an HMAC header is repeated";
  if (const std::string* mac = request.header("content-hmac")) {
    if (cloudpayments::hmacMatches(key, request.body, *mac)) return std::nullopt;
    return "Content-HMAC does not match the body";
  }
  if (const std::string* mac = request.header("x-content-hmac")) {
    std::string decoded;
    if (!percentDecode(request.body, &decoded, /*plus_is_space=*/true))
      return "X-Content-HMAC: the body does not percent-decode";
    if (cloudpayments::hmacMatches(key, decoded, *mac)) return std::nullopt;
    return "X-Content-HMAC does not match the decoded body";
  }
  return "no Content-HMAC header";
}

bool isTest(const Json& data) {
  const std::string mode = lowerAscii(text(data, "test_mode"));
  return mode == "1" || mode == "true";
}

Payment paymentOf(size_t endpoint, const Json& data) {
  using H = CloudPaymentsHandler;
  Payment p;
  const std::string status = text(data, "status");
  switch (endpoint) {
    case H::kPay:
      p.outcome = status == "Completed"    ? Outcome::kSucceeded
                  : status == "Authorized" ? Outcome::kHeld
                                           : Outcome::kPending;
      break;
    case H::kConfirm:
      // A Confirm is the capture of a hold; a status other than Completed says it did not settle yet.
      p.outcome = status.empty() || status == "Completed" ? Outcome::kSucceeded : Outcome::kPending;
      break;
    case H::kFail:
      p.outcome = Outcome::kFailed;
      break;
    case H::kRefund:
      p.outcome = Outcome::kRefunded;
      break;
    case H::kCancel:
      p.outcome = Outcome::kReversed;
      break;
    default:
      // Check: nothing is paid yet. Recurrent: a subscription's state, not money.
      p.outcome = Outcome::kPending;
  }
  p.test = isTest(data);
  if (std::string currency = text(data, "currency"); !currency.empty())
    p.currency = money::currencyAlpha(currency);
  p.setMajorAmount(text(data, "amount"));
  // JSON writes 123.00 as "123.0": the minor units give the amount its usual form.
  if (p.amount_minor) p.setMinorAmount(*p.amount_minor);
  if (std::string invoice = text(data, "invoice_id"); !invoice.empty()) p.order_id = std::move(invoice);
  // A Refund's own TransactionId is the refund's; the payment it returns is PaymentTransactionId.
  std::string payment_id = text(data, "payment_transaction_id");
  if (payment_id.empty()) payment_id = text(data, "transaction_id");
  if (!payment_id.empty()) p.provider_payment_id = std::move(payment_id);
  return p;
}

}  // namespace

namespace cloudpayments {

std::string hmacBase64(const Secret& key, std::string_view message) {
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  const auto k = key.reveal();
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(k.data()), k.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(message.data()), message.size());
  crypto_auth_hmacsha256_final(&st, mac);
  sodium_memzero(&st, sizeof st);
  char out[sodium_base64_ENCODED_LEN(crypto_auth_hmacsha256_BYTES, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(out, sizeof out, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
  return out;
}

bool hmacMatches(const Secret& key, std::string_view message, std::string_view header) {
  const auto given = decodeBase64(trim(header));
  if (!given || given->size() != crypto_auth_hmacsha256_BYTES) return false;
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  const auto k = key.reveal();
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(k.data()), k.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(message.data()), message.size());
  crypto_auth_hmacsha256_final(&st, mac);
  sodium_memzero(&st, sizeof st);
  return sodium_memcmp(mac, given->data(), sizeof mac) == 0;
}

std::string snakeCase(std::string_view name) {
  auto upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
  auto lowerOrDigit = [&](char c) { return lower(c) || (c >= '0' && c <= '9'); };
  std::string out;
  out.reserve(name.size() + 4);
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    // A word starts at an upper-case letter after a lower-case one or a digit ("CardId"), and at the last
    // capital of a run followed by a lower-case letter ("HTTPCode" → "http_code").
    if (upper(c) && i > 0 &&
        (lowerOrDigit(name[i - 1]) || (upper(name[i - 1]) && i + 1 < name.size() && lower(name[i + 1]))))
      out += '_';
    out += lowerAscii(c);
  }
  return out;
}

http::Response answer(int status, int code) {
  return http::Response{status, "application/json", R"({"code":)" + std::to_string(code) + "}", {}, false};
}

int checkCode(const Decision& decision) {
  switch (decision.kind) {
    case Decision::Kind::kAccept:
      return decision.pending ? kCannotAccept : 0;
    case Decision::Kind::kRefuse:
      if (decision.pending) return kCannotAccept;
      return std::find(kCheckCodes.begin(), kCheckCodes.end(), decision.code) != kCheckCodes.end()
                 ? decision.code
                 : kCannotAccept;
    case Decision::Kind::kFailed:
      return kCannotAccept;
  }
  return kCannotAccept;
}

}  // namespace cloudpayments

CloudPaymentsHandler::CloudPaymentsHandler(std::string route, Secret api_secret)
    : route_(std::move(route)), api_secret_(std::move(api_secret)) {}

std::vector<Endpoint> CloudPaymentsHandler::endpoints() const {
  std::vector<Endpoint> out;
  for (const auto& spec : kSpecs) out.push_back({"/" + std::string(spec.kind), {"POST"}});
  return out;
}

Verdict CloudPaymentsHandler::handle(size_t endpoint, const http::Request& request,
                                     int64_t /*now_ms*/) const {
  if (endpoint >= std::size(kSpecs)) return malformed("unknown endpoint");
  const EndpointSpec& spec = kSpecs[endpoint];

  // Nothing of the body is read before the HMAC vouches for it.
  if (auto why = unverified(request, api_secret_)) return forged(std::move(*why));

  auto parsed = dataOf(request);
  if (!parsed) return malformed(parsed.error().message);
  Json& data = *parsed;

  Event ev;
  if (endpoint == kRecurrent) {
    const std::string id = text(data, "id");
    const std::string status = text(data, "status");
    if (!usableId(id)) return malformed("Id missing or unusable");
    if (!status.empty() && !usableId(status)) return malformed("Status unusable");
    ev.idempotency_key = "recurrent:" + id + ":" + status + ":" +
                         text(data, "successful_transactions_number") + ":" +
                         text(data, "failed_transactions_number");
  } else {
    const std::string id = text(data, "transaction_id");
    if (!usableId(id)) return malformed("TransactionId missing or unusable");
    ev.idempotency_key = std::string(spec.kind) + ":" + id;
  }

  const Payment payment = paymentOf(endpoint, data);
  ev.type = spec.type;
  ev.route = route_;
  ev.provider = kProvider;
  ev.verified = true;
  ev.listing = listingOf(ev.provider, data, payment);
  // Bytes that are not UTF-8 become U+FFFD here and stay exact in raw.body.
  ev.data_json = data.dump(-1, ' ', false, Json::error_handler_t::replace);
  payment.addTo(ev.data_json);

  if (endpoint == kCheck) return Decide{std::move(ev)};
  return Accept{std::move(ev), cloudpayments::answer(200, 0)};
}

http::Response CloudPaymentsHandler::decided(const Event& /*event*/, const Decision& decision) const {
  return cloudpayments::answer(200, cloudpayments::checkCode(decision));
}

http::Response CloudPaymentsHandler::unavailable() const {
  return cloudpayments::answer(503, kCannotAccept).withHeader("retry-after", "5");
}

std::string CloudPaymentsHandler::noteKey(const Event& event) const {
  const bool check = event.type == kSpecs[kCheck].type;
  if (!check && event.type != kSpecs[kPay].type) return {};
  // "check:<TransactionId>" and "pay:<TransactionId>".
  const size_t colon = event.idempotency_key.find(':');
  if (colon == std::string::npos) return {};
  return "transaction:" + event.idempotency_key.substr(colon + 1);
}

std::string CloudPaymentsHandler::annotate(Event& event, std::string_view note) const {
  if (event.type != kSpecs[kPay].type) return {};
  const size_t space = note.find(' ');
  const std::string decision(note.substr(0, space));
  // The daemon keeps refusals only; an "accept" says nothing new.
  if (decision == "accept") return {};
  const std::string check_id(space == std::string_view::npos ? std::string_view() : note.substr(space + 1));
  auto data = Json::parse(event.data_json, nullptr, /*allow_exceptions=*/false);
  if (!data.is_object()) return {};
  data["check"] = {{"decision", decision}, {"event_id", check_id}};
  if (auto p = data.find("payment"); p != data.end() && p->is_object())
    (*p)["warnings"].push_back("check_refused");
  event.data_json = data.dump(-1, ' ', false, Json::error_handler_t::replace);
  return "Pay for a transaction the shop refused at Check: the payer was charged";
}

Result<std::unique_ptr<Handler>> makeCloudPaymentsHandler(const config::RouteConfig& route) {
  const auto* settings = route.settingsAs<cloudpayments::Settings>();
  if (settings == nullptr) return Error{"provider: the route's settings are not cloudpayments'"};
  if (settings->api_secret.empty()) return Error{"api_secret_file: the API secret must not be empty"};
  return std::unique_ptr<Handler>(std::make_unique<CloudPaymentsHandler>(route.name, settings->api_secret));
}

Provider cloudpayments::provider() {
  return {cloudpayments::providerConfig(), makeCloudPaymentsHandler};
}

}  // namespace payhook::handlers
