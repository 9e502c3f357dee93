#include "handlers/xml_text.h"

#include <algorithm>
#include <cstdint>

#include "handlers/charset.h"

namespace payhook::handlers {
namespace {

// XML 1.0's Char production.
bool xmlChar(uint32_t cp) {
  return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
         (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

}  // namespace

std::string xmlEscaped(std::string_view text, size_t max_chars) {
  std::string out;
  out.reserve(std::min(text.size(), max_chars * 4) + 16);
  size_t i = 0;
  for (size_t chars = 0; i < text.size() && chars < max_chars; ++chars) {
    uint32_t cp = nextCodePoint(text, &i);
    if (!xmlChar(cp)) cp = 0xFFFD;
    switch (cp) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      // A parser turns a literal tab, newline or carriage return in an attribute into a space.
      case '\t':
        out += "&#9;";
        break;
      case '\n':
        out += "&#10;";
        break;
      case '\r':
        out += "&#13;";
        break;
      default:
        appendUtf8(&out, cp);
    }
  }
  return out;
}

}  // namespace payhook::handlers
