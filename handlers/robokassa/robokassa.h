// The `robokassa` route handler: Robokassa's ResultURL, the server-to-server notice of a paid invoice
// (README "Robokassa").
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "common/secret.h"
#include "config/config.h"
#include "handlers/digest.h"
#include "handlers/handler.h"
#include "handlers/provider.h"
#include "handlers/robokassa/settings.h"

namespace payhook::handlers {

namespace robokassa {

using Pairs = std::vector<std::pair<std::string, std::string>>;

// How the shop's Shp_ parameters are ordered in the signed text. Robokassa's SDKs sort them two ways that
// differ only when one name is a prefix of another (Shp_a, Shp_a1): by name, or as whole "name=value"
// strings. Which one Robokassa itself uses then is not documented, so both verify.
enum class ShpOrder { kByName, kByPair };

// The text Robokassa hashes for ResultURL: OutSum ":" InvId ":" Password#2, then ":" name "=" value for each
// of `shp` in `order`. `out_sum` is the request's own spelling ("100.000000" stays so).
std::string signedText(std::string_view out_sum, std::string_view inv_id, std::string_view password,
                       Pairs shp, ShpOrder order);

// The `robokassa` provider: its keys and its handler.
Provider provider();

}  // namespace robokassa

// `GET` or `POST {path}/result` (the cabinet's ResultURL method; a POST is an x-www-form-urlencoded form,
// a GET the query string). SignatureValue is the route's `hash` over robokassa::signedText() with every
// parameter whose name starts with "Shp_" (any case), compared as hex in any case. Answers `200 OK{InvId}`
// (text/plain) once stored, also for a repeat; `403 bad sign` for a missing or wrong SignatureValue; `400`
// when OutSum is not a decimal, InvId not digits, a parameter is repeated, or a Shp_ value holds ":Shp_"
// (which could move the boundary between two signed pairs). Nothing is stored for a refusal.
//
// Accept, idempotency key "result:<InvId>", type "robokassa.result". Data: `out_sum` and `inv_id` as sent,
// `shp` (the Shp_ parameters, names as sent), and under "unsigned" what the signature does not cover
// (`fee`, `email`, `payment_method`, `inc_curr_label`, ..., and any other parameter under `other`).
// SignatureValue is blanked in the stored request (see Handler::storedBody).
class RobokassaHandler final : public Handler {
 public:
  RobokassaHandler(std::string route, Secret password2, HashAlgorithm hash, std::string currency);

  std::vector<Endpoint> endpoints() const override;
  Verdict handle(size_t endpoint, const http::Request& request, int64_t now_ms) const override;
  std::string storedQuery(std::string_view query) const override;
  std::string storedBody(std::string&& body) const override;

 private:
  bool signatureMatches(const std::string& out_sum, const std::string& inv_id, const robokassa::Pairs& shp,
                        std::string_view signature) const;

  std::string route_;
  Secret password2_;
  HashAlgorithm hash_;
  std::string currency_;
};

// Builds the handler from a route's `password2_file`, `hash` and `currency`. Errors are "key: message".
Result<std::unique_ptr<Handler>> makeRobokassaHandler(const config::RouteConfig& route);

}  // namespace payhook::handlers
