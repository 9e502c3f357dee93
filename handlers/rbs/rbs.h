// The `rbs` route: order-status callbacks of the RBS bank gateway (BPC; Sberbank, Alfa-Bank and others).
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
#include "handlers/form.h"
#include "handlers/handler.h"
#include "handlers/provider.h"
#include "handlers/rbs/settings.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept out of this header

namespace payhook::handlers {
namespace rbs {

enum class Checksum { kHmacSha256, kRsa, kNone };
enum class RsaHash { kSha512, kSha256 };

// Name/value pairs, percent-decoded, in the order received.
using Pairs = std::vector<std::pair<std::string, std::string>>;

// The string the bank signs: every pair except `checksum` and `sign_alias`, sorted by name in byte order,
// written `name;value;` each (with the trailing ';'), values percent-decoded.
std::string signedString(const Pairs& pairs);
std::string signedString(const Form& form);

// Why a ';' in these (the bank's) pairs could cut the signed string into other fields than the ones received,
// under the rules of RbsHandler's comment; empty when it cannot.
std::string semicolonProblem(const Pairs& pairs);

// "mdOrder" → "md_order", "maskedPAN" → "masked_pan"; other characters are kept (lower-cased letters).
std::string snakeCase(std::string_view name);

// The bank's RSA public keys, parsed once from PEM text: "PUBLIC KEY", "RSA PUBLIC KEY" and "CERTIFICATE"
// blocks, several in one file during a key change (any one verifies). Certificate dates are not checked:
// the certificate is only a carrier of the bank's key, which the shop installed by hand.
class RsaPublicKeys {
 public:
  // Errors name the problem without quoting key material: no block, a private key, not RSA, garbage.
  static Result<RsaPublicKeys> parse(std::string_view pem);

  // RSA PKCS#1 v1.5 over `message` with `hash`; `signature` is raw bytes (not hex).
  bool verify(std::string_view message, std::string_view signature, RsaHash hash) const;
  size_t size() const { return keys_.size(); }

 private:
  struct Free {
    void operator()(evp_pkey_st* key) const;
  };
  std::vector<std::unique_ptr<evp_pkey_st, Free>> keys_;
};

}  // namespace rbs

// GET or POST {path}/callback.
//
// Whose parameters are whose. A form body (application/x-www-form-urlencoded) holds the bank's pairs, all
// signed; every pair of the query string is then the shop's own, from the callback URL it gave the bank,
// and never signed. Without a body (GET, or a POST with an empty body) the query holds the bank's pairs,
// except those the route names in `own_params`: those are the shop's, and are left out of the signed string.
// The shop's pairs reach the app under data.shop_params {name: value} as sent, never at the top level, so
// they can never shadow a signed field; everything else in data comes from the bank's pairs only.
//
// ';' in the signed string. It is `name;value;` pairs sorted by name, so a ';' inside a name or value could
// cut it into other fields (merge `amount` into the value before it, or split a value into new fields) with
// the same checksum. Refused (400, outcome "malformed"), counting the bank's pairs only:
//   - a name containing ';';
//   - a ';' in the value of a documented field (mdOrder, orderNumber, operation, status, amount, currency,
//     approvalCode, bindingId, clientId, maskedPan, depositedAmount, refundedAmount, paymentState,
//     actionCode, callbackCreationDate: rbs::kBankParams);
//   - once any value holds a ';' (without one the string cuts one way only): a value that, read with the two
//     ';' around it in the signed string, holds `;<documented name>;`. That is a re-cut boundary: the name
//     inside the value ("x;amount;5"), at its start ("amount;5") or end ("x;amount"), or the whole value
//     ("amount", a name once an earlier ';' shifted the cut).
// Other values may hold ';'. What no rule can see: a value the bank signed that itself holds
// `;<documented name>;` can be split, by whoever holds that signed callback, into pairs with no ';' at all,
// adding a documented field the bank did not send (where its name sorts between the two pairs around it).
// Such values can only come from the shop's own order parameters, which should stay free of ';'.
//
// Answers 200 "OK" once stored. 400 when mdOrder, operation or status is missing or malformed (operation
// letters only, status letters or digits), for the ';' rules, a repeated or empty name, a query or body that
// does not parse, a body of another content type, two names with one snake_case name, or a name that would
// be stored as checksum, sign_alias, payment or shop_params. 403 on a bad checksum, or when a checksum is
// present or absent against the route's `checksum` mode. Idempotent on "mdOrder:operation:status", plus
// ":<refundedAmount>" or ":<depositedAmount>" for a refund or deposit, with ':' escaped in it (operation and
// status never contain ':', so the key reads back unambiguously from the right). Event type
// "rbs.<operation>"; data: every signed pair under its snake_case name, `payment` (the normalised payment,
// README), and `shop_params` when the shop's URL carried any.
class RbsHandler final : public Handler {
 public:
  struct Options {
    std::string route;
    rbs::Checksum checksum = rbs::Checksum::kHmacSha256;
    std::vector<Secret> tokens;   // kHmacSha256: the merchant's tokens, any one verifies (rotation)
    rbs::RsaPublicKeys rsa_keys;  // kRsa
    rbs::RsaHash rsa_hash = rbs::RsaHash::kSha512;
    std::vector<std::string> own_params;  // no body: the shop's own query parameters, never signed
    std::string currency = "RUB";         // data.payment's currency when the callback carries none
  };

  explicit RbsHandler(Options options);

  std::vector<Endpoint> endpoints() const override;
  Verdict handle(size_t endpoint, const http::Request& request, int64_t now_ms) const override;

 private:
  bool checksumValid(const std::string& checksum, const std::string& signed_string) const;

  Options options_;
};

// The registry's factory: keys are parsed here, once; errors are "key: message" (e.g. "public_key_file:
// ...").
Result<std::unique_ptr<Handler>> makeRbsHandler(const config::RouteConfig& route);

namespace rbs {
// The `rbs` provider: its keys and its handler.
Provider provider();
}  // namespace rbs

}  // namespace payhook::handlers
