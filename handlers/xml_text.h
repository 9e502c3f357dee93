// Text put into the XML answers providers read (YooMoney's attributes, allpay's Reason).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace payhook::handlers {

// `text` made safe inside XML, in a double-quoted attribute or as character data: at most `max_chars`
// characters (code points, never a split UTF-8 sequence), invalid UTF-8 and characters XML 1.0 forbids
// replaced by U+FFFD, & < > " ' escaped, and tab / newline / carriage return written as character
// references so that neither attribute nor line-end normalisation can change them.
std::string xmlEscaped(std::string_view text, size_t max_chars);

}  // namespace payhook::handlers
