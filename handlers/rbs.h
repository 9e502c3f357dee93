// The `rbs` route: order-status callbacks of the RBS bank gateway (BPC; Sberbank, Alfa-Bank and others).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/secret.h"
#include "config/config.h"
#include "handlers/form.h"
#include "handlers/handler.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept out of this header

namespace payhook::handlers {
namespace rbs {

enum class Checksum { kHmacSha256, kRsa, kNone };
enum class RsaHash { kSha512, kSha256 };

// The string the bank signs: every pair except `checksum` and `sign_alias`, sorted by name in byte order,
// written `name;value;` each (with the trailing ';'), values percent-decoded.
std::string signedString(const Form& form);

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

// GET or POST {path}/callback. Parameters come from the query string or from an
// application/x-www-form-urlencoded body, never from both (which half would be the signed one is
// ambiguous, so a request with both is refused). Answers 200 "OK" once stored; 400 when mdOrder, operation
// or status is missing or malformed; 403 on a bad checksum, or when a checksum is present or absent
// against the route's `checksum` mode. Idempotent on "mdOrder:operation:status" (operation and status
// never contain ':', so the key reads back unambiguously from the right). Event type "rbs.<operation>".
class RbsHandler final : public Handler {
 public:
  struct Options {
    std::string route;
    rbs::Checksum checksum = rbs::Checksum::kHmacSha256;
    std::vector<Secret> tokens;   // kHmacSha256: the merchant's tokens, any one verifies (rotation)
    rbs::RsaPublicKeys rsa_keys;  // kRsa
    rbs::RsaHash rsa_hash = rbs::RsaHash::kSha512;
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

}  // namespace payhook::handlers
