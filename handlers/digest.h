// Digests and MACs the provider protocols need, as hex text. Keys are Secrets; nothing here logs.
// MD5 and HMAC-MD5 come from OpenSSL's libcrypto (libsodium has neither); HMAC-SHA256 from libsodium.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/secret.h"

namespace payhook::handlers {

enum class HexCase { kLower, kUpper };

std::string toHex(std::string_view bytes, HexCase hex_case = HexCase::kLower);
// Decodes hex of either case; an error on odd length or a non-hex digit.
Result<std::string> fromHex(std::string_view hex);

std::string md5Hex(std::string_view data, HexCase hex_case);
std::string hmacSha256Hex(const Secret& key, std::string_view data, HexCase hex_case);
std::string hmacMd5Hex(const Secret& key, std::string_view data, HexCase hex_case);

// The plain digests a provider may be configured to sign with (Robokassa lets the shop choose), all from
// OpenSSL's EVP through its default provider.
enum class HashAlgorithm { kMd5, kRipemd160, kSha1, kSha256, kSha384, kSha512 };

// "md5", "ripemd160", "sha1", "sha256", "sha384", "sha512" (lower case, as config files spell them).
std::optional<HashAlgorithm> hashAlgorithmNamed(std::string_view name);
std::string_view hashAlgorithmName(HashAlgorithm algorithm);
// False when this libcrypto cannot compute it (an OpenSSL 3 build whose default provider lacks RIPEMD-160),
// so a route can be refused at load instead of failing every callback.
bool hashAvailable(HashAlgorithm algorithm);
// The digest as hex; empty when the algorithm is unavailable, so it never equals a provider's digits.
std::string hashHex(HashAlgorithm algorithm, std::string_view data, HexCase hex_case);

// Compares two hex strings in constant time, ignoring letter case (providers differ in case).
bool hexEqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace payhook::handlers
