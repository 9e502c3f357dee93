// The parts of an http:// URL that the plain transport needs. A URL it cannot take whole (another scheme,
// user information, a port it cannot read, bytes outside visible ASCII in the path, an IPv6 zone) gives
// nothing, and the Client leaves it to libcurl, whose behaviour for it stays as it was.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace payhook::http {

struct PlainUrl {
  std::string_view host;  // a name or an IPv4 literal; an IPv6 literal without its brackets
  uint16_t port = 80;
  std::string_view path;  // from the first '/' or '?', the fragment removed; empty for none
  bool ipv6 = false;
};

// Views into `url`, which must outlive the result.
std::optional<PlainUrl> parsePlainUrl(std::string_view url);

}  // namespace payhook::http
