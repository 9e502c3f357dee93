// Legacy text encodings of Russian form posts. Payment forms on windows-1251 pages post windows-1251 bytes;
// the event's data is JSON, so such values are carried as the same characters in UTF-8.
#pragma once

#include <string>
#include <string_view>

namespace payhook::handlers {

// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or code points beyond U+10FFFF).
bool isUtf8(std::string_view text);

// windows-1251 (cp1251) bytes as UTF-8. The one byte the code page leaves undefined, 0x98, becomes U+FFFD.
std::string cp1251ToUtf8(std::string_view bytes);

// True when a content-type value names windows-1251 ("charset=windows-1251", "cp1251", in any case).
bool namesCp1251(std::string_view content_type);

}  // namespace payhook::handlers
