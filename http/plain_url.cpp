#include "http/plain_url.h"

#include <netinet/in.h>
#include <uv.h>

#include <algorithm>
#include <string>

namespace payhook::http {

namespace {

bool nameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
         c == '_';
}

}  // namespace

std::optional<PlainUrl> parsePlainUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) return std::nullopt;
  url.remove_prefix(kScheme.size());
  const size_t end = url.find_first_of("/?#");
  std::string_view authority = url.substr(0, end);
  std::string_view path = end == std::string_view::npos ? std::string_view() : url.substr(end);
  if (const size_t hash = path.find('#'); hash != std::string_view::npos) path = path.substr(0, hash);
  for (char c : path) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return std::nullopt;  // curl has its own rules for these; it keeps them
  }

  PlainUrl t;
  std::string_view port;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    t.host = authority.substr(1, close - 1);
    t.ipv6 = true;
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port = after.substr(1);
      if (port.empty()) return std::nullopt;
    }
    in6_addr a6{};
    // A zone ("%25eth0") is left to curl, which knows its escaping; inet_pton would take it unescaped.
    if (t.host.empty() || t.host.size() >= INET6_ADDRSTRLEN || t.host.find('%') != std::string_view::npos)
      return std::nullopt;
    if (uv_inet_pton(AF_INET6, std::string(t.host).c_str(), &a6) != 0) return std::nullopt;
  } else {
    const size_t colon = authority.find(':');
    t.host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return std::nullopt;
    }
    if (t.host.empty() || !std::all_of(t.host.begin(), t.host.end(), nameChar)) return std::nullopt;
  }
  if (!port.empty()) {
    if (port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::nullopt;
    const int n = std::stoi(std::string(port));
    if (n < 1 || n > 65535) return std::nullopt;
    t.port = static_cast<uint16_t>(n);
  }
  t.path = path;
  return t;
}

}  // namespace payhook::http
