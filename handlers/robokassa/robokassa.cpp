#include "handlers/robokassa/robokassa.h"

#include <sodium.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/text.h"
#include "handlers/form.h"
#include "handlers/listing.h"
#include "handlers/payment.h"

namespace payhook::handlers {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kType = "robokassa.result";
constexpr std::string_view kSignature = "SignatureValue";
constexpr size_t kMaxInvId = 20;  // Robokassa's InvId is a 32-bit integer; 20 digits hold any integer id

// The parameters Robokassa documents beside the signed ones, by their names in data.unsigned.
struct Known {
  std::string_view name;
  std::string_view snake;
};
constexpr Known kUnsigned[] = {
    {"Fee", "fee"},
    {"EMail", "email"},
    {"PaymentMethod", "payment_method"},
    {"IncSum", "inc_sum"},
    {"IncCurrLabel", "inc_curr_label"},
    {"IsTest", "is_test"},
    {"Culture", "culture"},
};

Reject malformed(std::string reason) {
  return Reject{http::Response::text(400, "bad request\n"), std::move(reason), "malformed"};
}

Reject forged(std::string reason) {
  return Reject{http::Response::text(403, "bad sign\n"), std::move(reason), "forged"};
}

bool isShp(std::string_view name) {
  return name.size() > 4 && equalsIgnoreCase(name.substr(0, 4), "shp_");
}

bool allDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A value holding ":Shp_" (any case) reads, inside the signed text, as the end of its pair and the start of
// another: a signed request could be sent again with that one parameter split in two.
bool movesABoundary(std::string_view value) {
  return lowerAscii(value).find(":shp_") != std::string::npos;
}

std::string mediaType(std::string_view value) {
  return lowerAscii(trim(value.substr(0, value.find(';')), " \t"));
}

}  // namespace

namespace robokassa {

std::string signedText(std::string_view out_sum, std::string_view inv_id, std::string_view password,
                       Pairs shp, ShpOrder order) {
  if (order == ShpOrder::kByName)
    std::sort(shp.begin(), shp.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  else
    std::sort(shp.begin(), shp.end(), [](const auto& a, const auto& b) {
      return a.first + "=" + a.second < b.first + "=" + b.second;
    });
  size_t size = out_sum.size() + inv_id.size() + password.size() + 2;
  for (const auto& [k, v] : shp) size += k.size() + v.size() + 2;
  std::string text;
  // Reserved once, so appending never reallocates and leaves a copy of the password behind unwiped.
  text.reserve(size);
  text.append(out_sum).append(":").append(inv_id).append(":").append(password);
  for (const auto& [k, v] : shp) text.append(":").append(k).append("=").append(v);
  return text;
}

}  // namespace robokassa

RobokassaHandler::RobokassaHandler(std::string route, Secret password2, HashAlgorithm hash,
                                   std::string currency)
    : route_(std::move(route)),
      password2_(std::move(password2)),
      hash_(hash),
      currency_(std::move(currency)) {}

std::vector<Endpoint> RobokassaHandler::endpoints() const {
  return {{"/result", {"GET", "POST"}}};
}

bool RobokassaHandler::signatureMatches(const std::string& out_sum, const std::string& inv_id,
                                        const robokassa::Pairs& shp, std::string_view signature) const {
  bool ok = false;
  std::string tried;
  for (auto order : {robokassa::ShpOrder::kByName, robokassa::ShpOrder::kByPair}) {
    std::string text = robokassa::signedText(out_sum, inv_id, password2_.reveal(), shp, order);
    if (text != tried) ok |= hexEqualsIgnoreCase(hashHex(hash_, text, HexCase::kLower), signature);
    sodium_memzero(tried.data(), tried.size());
    tried = std::move(text);
  }
  sodium_memzero(tried.data(), tried.size());
  return ok;
}

Verdict RobokassaHandler::handle(size_t /*endpoint*/, const http::Request& request,
                                 int64_t /*now_ms*/) const {
  // The cabinet sends either a POST form or a GET query, never both: a POST's query is not Robokassa's.
  const bool from_body = !request.body.empty();
  if (const std::string* ct = request.header("content-type");
      from_body && ct && mediaType(*ct) != "application/x-www-form-urlencoded")
    return malformed("the body is not application/x-www-form-urlencoded");
  auto form = Form::parse(from_body ? request.body : request.query);  // a repeated parameter is refused
  if (!form) return malformed(form.error().message);

  const std::string* out_sum = form->get("OutSum");
  const std::string* inv_id = form->get("InvId");
  const std::string* signature = form->get(kSignature);
  if (out_sum == nullptr || inv_id == nullptr) return malformed("OutSum and InvId are required");
  if (signature == nullptr || signature->empty()) return forged("no SignatureValue");
  // A decimal and digits: neither can hold the ':' that separates them from the password in the signed text.
  if (!money::isDecimal(*out_sum)) return malformed("OutSum is not a decimal");
  if (!allDigits(*inv_id) || inv_id->size() > kMaxInvId) return malformed("InvId is not an integer");

  robokassa::Pairs shp;
  for (const auto& pair : form->pairs()) {
    if (!isShp(pair.first)) continue;
    if (pair.first.find_first_of(":=") != std::string::npos || movesABoundary(pair.second))
      return malformed("a Shp_ parameter holds what separates signed pairs");
    shp.push_back(pair);
  }
  if (!signatureMatches(*out_sum, *inv_id, shp, *signature)) return forged("SignatureValue mismatch");

  Json data = Json::object();
  data["out_sum"] = *out_sum;
  data["inv_id"] = *inv_id;
  Json shp_json = Json::object();
  for (const auto& [k, v] : shp) shp_json[k] = v;
  data["shp"] = std::move(shp_json);
  Json unsigned_fields = Json::object();
  Json other = Json::object();
  // Not a structured binding: clang before 16 refuses to capture one in the lambda.
  for (const auto& pair : form->pairs()) {
    const std::string& name = pair.first;
    if (name == "OutSum" || name == "InvId" || name == kSignature || isShp(name)) continue;
    auto known = std::find_if(std::begin(kUnsigned), std::end(kUnsigned),
                              [&](const Known& k) { return k.name == name; });
    if (known == std::end(kUnsigned))
      other[name] = pair.second;
    else
      unsigned_fields[std::string(known->snake)] = pair.second;
  }
  unsigned_fields["other"] = std::move(other);
  data["unsigned"] = std::move(unsigned_fields);

  // ResultURL is sent for a paid invoice only.
  Payment payment;
  payment.outcome = Outcome::kSucceeded;
  payment.currency = currency_;
  payment.setMajorAmount(*out_sum);
  payment.order_id = *inv_id;

  Event ev;
  ev.type = kType;
  ev.route = route_;
  ev.provider = "robokassa";
  ev.verified = true;
  ev.idempotency_key = "result:" + *inv_id;
  ev.listing = listingOf(ev.provider, data, payment);
  ev.data_json = data.dump(-1, ' ', false, Json::error_handler_t::replace);
  payment.addTo(ev.data_json);
  return Accept{std::move(ev), http::Response::text(200, "OK" + *inv_id)};
}

// SignatureValue is a plain digest over public values and Password #2: kept, it would let anyone who reads
// events test guesses of the password offline.
std::string RobokassaHandler::storedQuery(std::string_view query) const {
  return withBlankedValue(std::string(query), kSignature);
}

std::string RobokassaHandler::storedBody(std::string&& body) const {
  return withBlankedValue(std::move(body), kSignature);
}

Result<std::unique_ptr<Handler>> makeRobokassaHandler(const config::RouteConfig& route) {
  const auto* settings = route.settingsAs<robokassa::Settings>();
  if (settings == nullptr) return Error{"provider: the route's settings are not robokassa's"};
  if (settings->password2.empty()) return Error{"password2_file: Password #2 must not be empty"};
  if (!hashAvailable(settings->hash))
    return Error{"hash: \"" + std::string(hashAlgorithmName(settings->hash)) + "\" is not available"};
  return std::unique_ptr<Handler>(std::make_unique<RobokassaHandler>(route.name, settings->password2,
                                                                     settings->hash, settings->currency));
}

Provider robokassa::provider() {
  return {robokassa::providerConfig(), makeRobokassaHandler};
}

}  // namespace payhook::handlers
