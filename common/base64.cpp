#include "common/base64.h"

#include <sodium.h>

#include <algorithm>

namespace payhook {

std::optional<std::string> decodeBase64(std::string_view text, const char* ignore) {
  if (std::any_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; }))
    return std::nullopt;
  std::string out(text.size() / 4 * 3 + 3, '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(),
                        ignore, &len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
    sodium_memzero(out.data(), out.size());
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

}  // namespace payhook
