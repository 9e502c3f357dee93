// Redis addresses as written in the config. Shared by the config loader (validation) and the store
// (connecting), so both agree on what a URL means.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace payhook {

struct RedisAddress {
  bool unix_socket = false;
  std::string host;  // or the socket path
  int port = 6379;
  int db = 0;
  std::string password;  // secret: never log
  std::string username;  // Redis 6 ACL user; empty means AUTH with the password alone
};

// "redis://[:password@]host[:port][/db]", "redis://[user:password@]...", "redis://[::1]:6379",
// "unix:/path/redis.sock[?db=N][&password=P][&user=U]" (also "unix:///path"). User and password may be
// percent-encoded. The error message never contains the password.
Result<RedisAddress> parseRedisUrl(std::string_view url);
// The URL with any password replaced by "***", for logs. Works on malformed URLs too.
std::string redactRedisUrl(std::string_view url);

}  // namespace payhook
