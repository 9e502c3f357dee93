// Listen addresses as written in the config: shared by the loader (validation) and the HTTP server
// (binding), so both agree on what a string means and binding never needs a resolver.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace payhook {

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

}  // namespace payhook
