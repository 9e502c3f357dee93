// Listen addresses and CIDR ranges as written in the config, validated with the same parsers the daemon
// binds and matches with, so both agree on what a string means.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/cidr.h"
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

// Validates with the same parser the daemon matches with (common/cidr.h); the error explains the form.
Result<payhook::Cidr> parseCidr(std::string_view text);

}  // namespace payhook::config
