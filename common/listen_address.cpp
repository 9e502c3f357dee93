#include "common/listen_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>

namespace payhook {
namespace {

bool allDigits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Parses a decimal in [0, max]; refuses signs, spaces and leading "+" that strtol would let through.
bool parseBounded(std::string_view text, unsigned max, unsigned& out) {
  if (!allDigits(text) || text.size() > 5) return false;
  unsigned value = 0;
  for (char c : text) value = value * 10 + static_cast<unsigned>(c - '0');
  if (value > max) return false;
  out = value;
  return true;
}

Result<uint16_t> parsePort(std::string_view text) {
  unsigned port = 0;
  if (!parseBounded(text, 65535, port)) {
    return Error{"port \"" + std::string(text.substr(0, 16)) +
                 "\" must be a number from 1 to 65535, or 0 for any"};
  }
  return static_cast<uint16_t>(port);
}

}  // namespace

Result<ListenAddress> parseListenAddress(std::string_view text) {
  ListenAddress out;
  if (text.find('\0') != std::string_view::npos) return Error{"contains a NUL byte"};
  if (text.starts_with("unix:")) {
    out.kind = ListenAddress::Kind::kUnix;
    out.path = std::string(text.substr(5));
    if (out.path.empty() || out.path[0] != '/')
      return Error{"unix socket path must be absolute (\"unix:/run/...\")"};
    // sun_path holds 108 bytes including the terminating NUL.
    if (out.path.size() >= sizeof(sockaddr_un{}.sun_path)) {
      return Error{"unix socket path is longer than " + std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) +
                   " bytes"};
    }
    if (out.path.find('\0') != std::string::npos) return Error{"unix socket path contains a NUL byte"};
    return out;
  }
  std::string_view host;
  std::string_view port;
  if (text.starts_with("[")) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return Error{"missing ']' after the IPv6 address"};
    host = text.substr(1, close - 1);
    if (text.size() == close + 1 || text[close + 1] != ':') return Error{"expected \"[address]:port\""};
    port = text.substr(close + 2);
    in6_addr v6{};
    if (inet_pton(AF_INET6, std::string(host).c_str(), &v6) != 1)
      return Error{"not a valid IPv6 address in brackets"};
    out.ipv6 = true;
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos)
      return Error{"expected \"host:port\", \"[v6]:port\" or \"unix:/path\""};
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      return Error{"write an IPv6 address in brackets: \"[::1]:8080\""};
    in_addr v4{};
    if (inet_pton(AF_INET, std::string(host).c_str(), &v4) != 1) {
      return Error{"host must be an IPv4 address or a bracketed IPv6 address (host names are not resolved)"};
    }
  }
  auto parsed_port = parsePort(port);
  if (!parsed_port) return parsed_port.error();
  out.host = std::string(host);
  out.port = *parsed_port;
  return out;
}

}  // namespace payhook
