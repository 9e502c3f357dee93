// Standard Webhooks (standardwebhooks.com) signatures: used to verify inbound callbacks (handlers/), to sign
// what payhook sends to the shop's apps, and by payhookctl sign/verify.
//
// Signed content is "{webhook-id}.{webhook-timestamp}.{body}". `v1` is HMAC-SHA256 keyed with the
// base64-decoded part of a `whsec_` secret; `v1a` is ed25519 (`whpk_` public, `whsk_` secret keys).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/secret.h"

namespace payhook::swh {

// "whsec_<base64>" (the prefix is optional, as in the official libraries) → the HMAC key bytes.
Result<Secret> decodeSecret(std::string_view text);
// "whpk_<base64>" → a 32-byte ed25519 public key.
Result<std::string> decodePublicKey(std::string_view text);
// "whsk_<base64>" of a 32-byte seed or a 64-byte libsodium secret key → the 64-byte secret key.
Result<Secret> decodeSigningKey(std::string_view text);
// The public key that verifies what a decoded signing key signs.
std::string publicKeyOf(const Secret& signing_key);

// "v1,<base64 HMAC-SHA256>".
std::string signV1(const Secret& key, std::string_view id, std::string_view timestamp, std::string_view body);
// "v1a,<base64 ed25519 signature>".
std::string signV1a(const Secret& signing_key, std::string_view id, std::string_view timestamp,
                    std::string_view body);

struct VerifyKeys {
  std::vector<Secret> hmac;          // decoded v1 keys
  std::vector<std::string> ed25519;  // decoded v1a public keys
};

enum class VerifyResult { kOk, kBadTimestamp, kStale, kBadSignature };

// How far a webhook-timestamp may be from the clock, either way (the spec's suggested five minutes).
inline constexpr int64_t kToleranceS = 300;

// Checks the timestamp window, then every `v1,`/`v1a,` entry of `signature_header` against every key;
// any one valid entry passes. Comparisons are constant-time. More than 8 entries are refused unchecked.
VerifyResult verify(const VerifyKeys& keys, std::string_view id, std::string_view timestamp,
                    std::string_view signature_header, std::string_view body, int64_t now_ms,
                    int64_t tolerance_s = kToleranceS);

}  // namespace payhook::swh
