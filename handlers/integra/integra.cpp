#include "handlers/integra/integra.h"

#include "handlers/integra/follow_up.h"
#include "handlers/integra/settings.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>

#include "common/query.h"
#include "common/untrusted_text.h"
#include "handlers/digest.h"
#include "handlers/form.h"
#include "handlers/listing.h"
#include "handlers/payment.h"

namespace payhook::handlers {
namespace {

constexpr size_t kMaxIdLength = 128;
constexpr size_t kMaxAmountLength = 32;

// The daemon's answer for a path it does not serve (daemon/ingest.cpp): a caller without the token must not
// learn that this path is mounted.
Reject notFound(std::string reason) {
  return Reject{http::Response::text(404, "not found\n"), std::move(reason), "forged"};
}

Reject malformed(std::string reason) {
  return Reject{http::Response::text(400, "bad request: " + reason + "\n"), std::move(reason), "malformed"};
}

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

// URL-unreserved characters only: the transaction id.
bool plainToken(std::string_view s) {
  if (s.empty() || s.size() > kMaxIdLength) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_' ||
           c == '.' || c == '~';
  });
}

// Digits, optionally a point or a decimal comma and more digits: no sign, exponent or white space.
bool decimalAmount(std::string_view s) {
  if (s.empty() || s.size() > kMaxAmountLength) return false;
  const size_t point = s.find_first_of(".,");
  auto digits = [](std::string_view part) {
    return !part.empty() && std::all_of(part.begin(), part.end(), isDigit);
  };
  if (point == std::string_view::npos) return digits(s);
  return digits(s.substr(0, point)) && digits(s.substr(point + 1));
}

}  // namespace

namespace integra {

bool userHash(std::string_view s) {
  if (s.empty() || s.size() > kMaxIdLength) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_' ||
           c == '.' || c == '~' || c == '+' || c == '/' || c == '=';
  });
}

std::string withoutToken(std::string_view query) {
  std::string out;
  out.reserve(query.size());
  forEachQueryPart(query, [&](std::string_view part, std::string_view raw_name, std::string_view, bool) {
    std::string name;
    // A name that does not decode is kept: Form::parse refuses such a query, so it carried no valid token.
    if (percentDecode(raw_name, &name, true) && name == "token") return true;
    if (!out.empty()) out += '&';
    out += part;
    return true;
  });
  return out;
}

}  // namespace integra

IntegraHandler::IntegraHandler(IntegraOptions options)
    : options_(std::move(options)),
      token_digest_(hmacSha256Hex(options_.url_token, options_.url_token.reveal(), HexCase::kLower)) {}

std::vector<Endpoint> IntegraHandler::endpoints() const {
  return {{"/notify", {"GET"}}};
}

Verdict IntegraHandler::handle(size_t /*endpoint*/, const http::Request& request, int64_t /*now_ms*/) const {
  // Until the token is proven, every refusal is the unknown-path 404, a broken query included.
  auto form = Form::parse(request.query);
  if (!form) return notFound("query unreadable, token not checked");
  const std::string* token = form->get("token");
  if (!token) return notFound("token missing");
  // Both sides hashed first, so the comparison takes the same time whatever length was guessed.
  if (!constantTimeEqual(hmacSha256Hex(options_.url_token, *token, HexCase::kLower), token_digest_))
    return notFound("wrong token");

  const std::string* id = form->get(options_.id_param);
  const std::string* amount = form->get(options_.amount_param);
  const std::string* user = form->get(options_.user_param);
  if (!id || !plainToken(*id)) return malformed(options_.id_param + " missing or malformed");
  if (!amount || !decimalAmount(*amount))
    return malformed(options_.amount_param + " missing or not a decimal");
  if (!user || !integra::userHash(*user)) return malformed(options_.user_param + " missing or malformed");
  if (!options_.known_users.empty() && std::find(options_.known_users.begin(), options_.known_users.end(),
                                                 *user) == options_.known_users.end())
    return Reject{http::Response::text(403, "forbidden\n"), "user not in known_users", "forbidden"};

  nlohmann::json data = nlohmann::json::object();
  data["transaction_id"] = *id;
  data["amount"] = *amount;
  data["user"] = *user;
  for (const auto& [name, value] : form->pairs()) {
    if (name == "token" || name == options_.id_param || name == options_.amount_param ||
        name == options_.user_param)
      continue;
    // An extra "amount" beside amount_param = "sum" (renamed parameters), or a "payment", would be mistaken
    // for a normalised field by whoever reads the event.
    if (data.contains(name) || name == "payment")
      return malformed("parameter " + quoteUntrusted(name) + " collides with a normalised field");
    data[name] = value;
  }
  // The notify settles nothing: the shop's decision and Integra's confirmPayment do. No currency is sent.
  Payment payment;
  payment.outcome = Outcome::kPending;
  payment.setMajorAmount(*amount);
  payment.provider_payment_id = *id;

  Event ev;
  ev.type = "integra.payment_notify";
  ev.route = options_.route;
  ev.provider = "integra";
  ev.verified = true;
  ev.idempotency_key = *id;
  ev.listing = listingOf(ev.provider, data, payment);
  ev.data_json = data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  payment.addTo(ev.data_json);
  return Accept{std::move(ev), http::Response::text(200, "OK")};
}

}  // namespace payhook::handlers

namespace payhook::handlers {

Result<std::unique_ptr<Handler>> makeIntegraHandler(const config::RouteConfig& route) {
  const auto* settings = route.settingsAs<integra::Settings>();
  if (settings == nullptr) return Error{"provider: the route's settings are not integra's"};
  if (settings->url_token.empty()) return Error{"url_token_file: an integra route needs a url token"};
  const std::vector<std::pair<std::string, std::string>> params = {{"id_param", settings->id_param},
                                                                   {"amount_param", settings->amount_param},
                                                                   {"user_param", settings->user_param}};
  for (size_t i = 0; i < params.size(); ++i) {
    const auto& [key, name] = params[i];
    if (name.empty()) return Error{key + ": must not be empty"};
    if (name == "token") return Error{key + ": \"token\" is the url token's parameter"};
    for (size_t j = 0; j < i; ++j)
      if (params[j].second == name) return Error{key + ": \"" + name + "\" is already " + params[j].first};
  }
  IntegraOptions options;
  options.route = route.name;
  options.url_token = settings->url_token;
  options.id_param = settings->id_param;
  options.amount_param = settings->amount_param;
  options.user_param = settings->user_param;
  options.known_users = settings->known_users;
  return std::unique_ptr<Handler>(std::make_unique<IntegraHandler>(std::move(options)));
}

Provider integra::provider() {
  return {integra::providerConfig(), makeIntegraHandler, integra::makeFollowUp};
}

}  // namespace payhook::handlers
