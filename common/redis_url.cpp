#include "common/redis_url.h"

#include "common/percent.h"
#include "common/query.h"

#include <sys/un.h>

#include <cctype>
#include <charconv>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace payhook {

namespace {

bool parseNumber(std::string_view s, int max, int* out) {
  if (s.empty() || s.size() > 9) return false;
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0 || v > max) return false;
  *out = v;
  return true;
}

constexpr int kMaxDb = 1 << 20;  // Redis' own limit is its `databases` setting; this only rejects junk

Result<RedisAddress> parseUnixUrl(std::string_view rest) {
  RedisAddress a;
  a.unix_socket = true;
  a.port = 0;
  // "unix:///path" is the form redis-py and others write; "unix:/path" is ours.
  if (rest.starts_with("///")) rest.remove_prefix(2);
  std::string_view query;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (rest.empty()) return Error{"unix socket URL has no path (want unix:/path/redis.sock)"};
  // hiredis would silently cut a longer path and connect somewhere else.
  if (rest.size() >= sizeof(sockaddr_un::sun_path))
    return Error{"unix socket path is longer than " + std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                 " bytes"};
  a.host = std::string(rest);
  std::string problem;
  forEachQueryPart(query, [&](std::string_view, std::string_view key, std::string_view value,
                              bool has_value) {
    if (!has_value) {
      problem = "unix socket URL: parameter without '=' (want ?db=N)";
    } else if (key == "db") {
      if (!parseNumber(value, kMaxDb, &a.db)) problem = "unix socket URL: db is not a small number";
    } else if (key == "password") {
      if (!percentDecode(value, &a.password)) problem = "unix socket URL: bad %-escape in the password";
    } else if (key == "user" || key == "username") {
      if (!percentDecode(value, &a.username)) problem = "unix socket URL: bad %-escape in the user";
    } else {
      problem = "unix socket URL: unknown parameter \"" + std::string(key) + "\" (known: db, password, user)";
    }
    return problem.empty();
  });
  if (!problem.empty()) return Error{problem};
  return a;
}

// "user:password" before the last '@' (the password may hold '@' or '/' unescaped), removed from `rest`.
std::string parseUserInfo(std::string_view* rest, RedisAddress* a) {
  auto at = rest->rfind('@');
  if (at == std::string_view::npos) return {};
  std::string_view userinfo = rest->substr(0, at);
  *rest = rest->substr(at + 1);
  auto colon = userinfo.find(':');
  if (colon == std::string_view::npos)
    return "redis URL: user information without ':' (write redis://:password@host or "
           "redis://user:password@host)";
  if (!percentDecode(userinfo.substr(0, colon), &a->username)) return "redis URL: bad %-escape in the user";
  if (!percentDecode(userinfo.substr(colon + 1), &a->password))
    return "redis URL: bad %-escape in the password";
  return {};
}

// "host", "host:port", "[v6]" or "[v6]:port".
std::string parseHostPort(std::string_view rest, RedisEndpoint* out) {
  std::string_view host, port;
  if (rest.starts_with('[')) {
    auto close = rest.find(']');
    if (close == std::string_view::npos) return "redis URL: '[' without ']' around an IPv6 address";
    host = rest.substr(1, close - 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return "redis URL: junk after the IPv6 address";
      port = after.substr(1);
      if (port.empty()) return "redis URL: empty port";
    }
    if (host.find(':') == std::string_view::npos) return "redis URL: brackets around a non-IPv6 host";
  } else {
    auto colon = rest.find(':');
    host = rest.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = rest.substr(colon + 1);
      if (port.empty()) return "redis URL: empty port";
      if (port.find(':') != std::string_view::npos)
        return "redis URL: an IPv6 address must be written in brackets, e.g. redis://[::1]:6379";
    }
  }
  if (host.empty()) return "redis URL: no host";
  for (char c : host)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' || c == ':' ||
          c == '%'))
      return "redis URL: invalid character in the host";
  // A zone id is written "%25eth0" in URLs; the resolver wants "%eth0".
  if (!percentDecode(host, &out->host)) return "redis URL: bad %-escape in the host";
  if (!port.empty() && (!parseNumber(port, 65535, &out->port) || out->port == 0))
    return "redis URL: port must be a number from 1 to 65535";
  return {};
}

Result<RedisAddress> parseTcpUrl(std::string_view rest) {
  RedisAddress a;
  if (std::string e = parseUserInfo(&rest, &a); !e.empty()) return Error{e};
  if (rest.find('?') != std::string_view::npos)
    return Error{"redis URL: query parameters are not supported (put the db in the path: /N)"};
  std::string_view path;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    path = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  RedisEndpoint ep{{}, 6379};
  if (std::string e = parseHostPort(rest, &ep); !e.empty()) return Error{e};
  a.host = std::move(ep.host);
  a.port = ep.port;
  if (!path.empty() && !parseNumber(path, kMaxDb, &a.db))
    return Error{"redis URL: the path must be a database number, e.g. /0"};
  return a;
}

// The comma-separated sentinels or seed nodes of redis+sentinel:// and redis+cluster://.
std::string parseSeeds(std::string_view list, int default_port, std::vector<RedisEndpoint>* out) {
  constexpr size_t kMaxSeeds = 64;
  while (true) {
    auto comma = list.find(',');
    RedisEndpoint ep{{}, default_port};
    if (std::string e = parseHostPort(list.substr(0, comma), &ep); !e.empty()) return e;
    out->push_back(std::move(ep));
    if (out->size() > kMaxSeeds) return "redis URL: more than 64 hosts";
    if (comma == std::string_view::npos) return {};
    list = list.substr(comma + 1);
  }
}

// redis+sentinel://[user:password@]host[:port][,host[:port]...]/master-name[/db]
Result<RedisAddress> parseSentinelUrl(std::string_view rest) {
  RedisAddress a;
  a.mode = RedisMode::kSentinel;
  a.port = 0;
  if (std::string e = parseUserInfo(&rest, &a); !e.empty()) return Error{e};
  if (rest.find('?') != std::string_view::npos)
    return Error{"sentinel URL: query parameters are not supported"};
  auto slash = rest.find('/');
  if (slash == std::string_view::npos)
    return Error{"sentinel URL: no master name (want redis+sentinel://host:26379,host:26379/mymaster)"};
  std::string_view path = rest.substr(slash + 1);
  if (std::string e = parseSeeds(rest.substr(0, slash), 26379, &a.seeds); !e.empty())
    return Error{"sentinel URL: " + e.substr(e.find(':') + 2)};
  auto db_slash = path.find('/');
  std::string_view name = path.substr(0, db_slash);
  if (name.empty()) return Error{"sentinel URL: empty master name"};
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_'))
      return Error{"sentinel URL: the master name may hold letters, digits, '.', '-' and '_' only"};
  a.master_name = std::string(name);
  if (db_slash != std::string_view::npos && !parseNumber(path.substr(db_slash + 1), kMaxDb, &a.db))
    return Error{"sentinel URL: after the master name, only a database number, e.g. /mymaster/0"};
  return a;
}

// redis+cluster://[user:password@]host[:port][,host[:port]...][/0]
Result<RedisAddress> parseClusterUrl(std::string_view rest) {
  RedisAddress a;
  a.mode = RedisMode::kCluster;
  a.port = 0;
  if (std::string e = parseUserInfo(&rest, &a); !e.empty()) return Error{e};
  if (rest.find('?') != std::string_view::npos)
    return Error{"cluster URL: query parameters are not supported"};
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    std::string_view path = rest.substr(slash + 1);
    if (!path.empty() && path != "0")
      return Error{"cluster URL: Redis Cluster has database 0 only; leave the path out or write /0"};
    rest = rest.substr(0, slash);
  }
  if (std::string e = parseSeeds(rest, 6379, &a.seeds); !e.empty())
    return Error{"cluster URL: " + e.substr(e.find(':') + 2)};
  return a;
}

}  // namespace

Result<RedisAddress> parseRedisUrl(std::string_view url) {
  if (url.starts_with("redis://")) return parseTcpUrl(url.substr(8));
  if (url.starts_with("unix:")) return parseUnixUrl(url.substr(5));
  if (url.starts_with("redis+sentinel://")) return parseSentinelUrl(url.substr(17));
  if (url.starts_with("redis+cluster://")) return parseClusterUrl(url.substr(16));
  if (url.starts_with("rediss://")) return Error{"redis URL: TLS (rediss://) is not supported"};
  return Error{
      "redis URL must start with redis://, unix:, redis+sentinel:// or redis+cluster:// (e.g. "
      "redis://127.0.0.1:6379/0)"};
}

std::string redactRedisUrl(std::string_view url) {
  std::string out;
  std::string_view rest = url;
  // User information: everything between "://" (or the start) and the last '@' before any path.
  size_t start = 0;
  if (auto scheme = url.find("://"); scheme != std::string_view::npos) start = scheme + 3;
  size_t at = url.rfind('@');
  if (!url.starts_with("unix:") && at != std::string_view::npos && at >= start) {
    std::string_view userinfo = url.substr(start, at - start);
    auto colon = userinfo.find(':');
    out.append(url.substr(0, start));
    if (colon == std::string_view::npos) {
      out += "***";  // no separator: the whole thing may be a password
    } else {
      out.append(userinfo.substr(0, colon + 1));
      out += "***";
    }
    rest = url.substr(at);
  } else {
    rest = url;
  }
  // Query parameters named password, wherever they are.
  auto q = rest.find('?');
  if (q == std::string_view::npos) {
    out.append(rest);
    return out;
  }
  out.append(rest.substr(0, q + 1));
  std::string_view query = rest.substr(q + 1);
  bool first = true;
  while (true) {
    auto amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    if (!first) out += '&';
    first = false;
    if (param.starts_with("password=")) {
      out += "password=***";
    } else {
      out.append(param);
    }
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return out;
}

}  // namespace payhook
