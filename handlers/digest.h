// Digests and MACs the provider protocols need, as hex text. Keys are Secrets; nothing here logs.
// MD5 and HMAC-MD5 come from OpenSSL's libcrypto (libsodium has neither); HMAC-SHA256 from libsodium.
#pragma once

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

// Compares two hex strings in constant time, ignoring letter case (providers differ in case).
bool hexEqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace payhook::handlers
