// Listen addresses and CIDR ranges as written in the config. The loader uses these to validate; the daemon
// uses the same functions to bind and to match client addresses, so both agree on what a string means.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace payhook::config {

struct ListenAddress {
  enum class Kind { kTcp, kUnix };
  Kind kind = Kind::kTcp;
  std::string host;   // IP literal without brackets ("127.0.0.1", "::1"); empty for kUnix
  bool ipv6 = false;  // host is an IPv6 literal
  uint16_t port = 0;  // 0: the kernel picks a free port
  std::string path;   // kUnix: absolute socket path
};

// "host:port" (IPv4 literal), "[v6]:port" or "unix:/abs/path". Host names are refused: binding must not
// depend on DNS at start-up. The error text says what is wrong without the "key:" prefix.
Result<ListenAddress> parseListenAddress(std::string_view text);

struct Cidr {
  int family = AF_INET;             // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes{};  // network order; AF_INET uses the first 4
  int prefix_len = 32;

  // True when `address` (AF_INET or AF_INET6) is inside the range. An IPv4-mapped IPv6 client
  // (::ffff:a.b.c.d, as seen on a dual-stack socket) matches IPv4 ranges.
  bool contains(const sockaddr* address) const;
};

// "10.0.0.0/8", "192.0.2.7" (a single host), "2001:db8::/32", "::1".
Result<Cidr> parseCidr(std::string_view text);

}  // namespace payhook::config
