// Legacy text encodings of Russian form posts. Payment forms on windows-1251 pages post windows-1251 bytes;
// the event's data is JSON, so such values are carried as the same characters in UTF-8.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace payhook::handlers {

// The code point of the UTF-8 sequence at `*i`, advancing past it; U+FFFD, advancing one byte, when the
// bytes there are not valid UTF-8 (truncated, overlong, a surrogate, beyond U+10FFFF).
uint32_t nextCodePoint(std::string_view s, size_t* i);
// `cp` (at most U+10FFFF) in UTF-8.
void appendUtf8(std::string* out, uint32_t cp);

// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or code points beyond U+10FFFF).
bool isUtf8(std::string_view text);

// windows-1251 (cp1251) bytes as UTF-8. The one byte the code page leaves undefined, 0x98, becomes U+FFFD.
std::string cp1251ToUtf8(std::string_view bytes);

// True when a content-type value names windows-1251 ("charset=windows-1251", "cp1251", in any case).
bool namesCp1251(std::string_view content_type);

}  // namespace payhook::handlers
