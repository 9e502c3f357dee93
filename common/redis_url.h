// Redis addresses as written in the config. Shared by the config loader (validation) and the store
// (connecting), so both agree on what a URL means.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace payhook {

enum class RedisMode : uint8_t {
  kDirect,    // one Redis at host:port or a unix socket
  kSentinel,  // the master the sentinels in `seeds` name for `master_name`
  kCluster,   // the Cluster node that owns the "{prefix}" hash slot, found through `seeds`
};

struct RedisEndpoint {
  std::string host;
  int port = 0;
};

struct RedisAddress {
  RedisMode mode = RedisMode::kDirect;
  bool unix_socket = false;
  std::string host;  // or the socket path
  int port = 6379;
  int db = 0;
  std::string password;  // secret: never log
  std::string username;  // Redis 6 ACL user; empty means AUTH with the password alone
  // kSentinel: the sentinels (default port 26379); kCluster: the seed nodes (default port 6379). Their
  // host and port fields above are empty until the master is found. User and password are the data nodes'.
  std::vector<RedisEndpoint> seeds;
  std::string master_name;  // kSentinel
};

// "redis://[:password@]host[:port][/db]", "redis://[user:password@]...", "redis://[::1]:6379",
// "unix:/path/redis.sock[?db=N][&password=P][&user=U]" (also "unix:///path"),
// "redis+sentinel://[user:password@]host[:port][,host[:port]...]/master-name[/db]",
// "redis+cluster://[user:password@]host[:port][,host[:port]...]". User and password may be
// percent-encoded. The error message never contains the password.
Result<RedisAddress> parseRedisUrl(std::string_view url);
// The URL with any password replaced by "***", for logs. Works on malformed URLs too.
std::string redactRedisUrl(std::string_view url);

}  // namespace payhook
