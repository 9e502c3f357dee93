// The `integra` route handler: Integra's PAYMENT_NOTIFY_URL notification (README "Providers").
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/secret.h"
#include "config/config.h"
#include "handlers/handler.h"
#include "handlers/provider.h"

namespace payhook::handlers {

namespace integra {

// A user hash as payhook accepts it (after percent-decoding): 1 to 128 characters from A-Za-z0-9, "-_.~"
// and base64's "+/=". It goes back into Integra's API URL percent-encoded (integra/api.h).
bool userHash(std::string_view s);

// `query` without its `token` parameter(s), every other byte as it was: what may be stored and forwarded as
// the raw query.
std::string withoutToken(std::string_view query);

}  // namespace integra

struct IntegraOptions {
  std::string route;
  Secret url_token;  // must arrive as the `token` query parameter
  std::string id_param = "transaction_id";
  std::string amount_param = "amount";
  std::string user_param = "user";
  std::vector<std::string> known_users;  // empty: any user hash
};

// GET {path}/notify. Integra signs nothing, so the route's url_token in the query is the proof: without it
// (or with a query too broken to read it) the answer is the daemon's own 404 for an unknown path, byte for
// byte. With it: 200 "OK" once stored; 400 when the id, amount or user hash is missing or malformed; 403 when
// known_users is set and does not list the user. Idempotent on the transaction id.
//
// Accepted values: the id is 1 to 128 characters from A-Za-z0-9 and "-_.~" (the documented id is 32
// characters; the length is not enforced so that a format change does not lose payments, but the character
// set is); the user hash is the same plus base64's "+/=" (integra::userHash()); the amount is digits with an
// optional fractional part after a point or a decimal comma ("100", "100.50", "100,50"), at most 32
// characters, kept as sent (the normalised payment has a point).
class IntegraHandler final : public Handler {
 public:
  explicit IntegraHandler(IntegraOptions options);

  std::vector<Endpoint> endpoints() const override;
  Verdict handle(size_t endpoint, const http::Request& request, int64_t now_ms) const override;
  // The url token is a secret: it never reaches Redis or the shop's apps.
  std::string storedQuery(std::string_view query) const override { return integra::withoutToken(query); }
  // confirmPayment or declinePayment follows the decision target's answer (handlers/integra/api.h).
  bool decidesLater() const override { return true; }

 private:
  IntegraOptions options_;
  std::string token_digest_;  // HMAC of the token under itself: compared at a fixed length
};

// The registry's factory. Refuses a route whose parameter names coincide with each other or with "token".
Result<std::unique_ptr<Handler>> makeIntegraHandler(const config::RouteConfig& route);

namespace integra {
// The `integra` provider: its keys, its handler and its follow-up (the decision carried out).
Provider provider();
}  // namespace integra

}  // namespace payhook::handlers
