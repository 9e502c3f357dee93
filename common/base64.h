// Base64 decoding (the standard alphabet, padded) for secrets from config files and for signatures and
// documents from the network.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace payhook {

// The decoded bytes, or nullopt unless all of `text` is base64 (characters in `ignore`, if given, are
// skipped). libsodium 1.0.18, Debian 12's, decodes every byte from 0x80 up as if it were a base64 digit,
// so such bytes are refused here before libsodium sees them: a secret or a signature with garbage in it
// must not decode to something.
std::optional<std::string> decodeBase64(std::string_view text, const char* ignore = nullptr);

}  // namespace payhook
