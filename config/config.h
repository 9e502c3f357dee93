// The daemon's configuration as plain structs, produced by loadConfig() from a TOML file.
// Nothing here knows sockets or Redis; secrets are already read from their files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/secret.h"
#include "config/address.h"  // parseListenAddress(), parseCidr(): the same parsing the loader validates with
#include "config/provider.h"

namespace payhook::config {

// Where a table or key was written, for error messages after loading ("FILE:LINE: key: message").
struct Location {
  std::string file;
  int line = 0;
};

struct ServerConfig {
  std::vector<std::string> listen{"127.0.0.1:8080"};  // "host:port", "[v6]:port" or "unix:/path"
  uint64_t max_body = 64 * 1024;
  uint64_t max_header_bytes = 16 * 1024;  // request line plus all header lines
  uint64_t max_headers = 100;
  uint64_t header_timeout_ms = 10'000;
  uint64_t idle_timeout_ms = 60'000;  // keep-alive connection with no request in progress
  uint64_t max_connections = 10'000;
  std::vector<std::string> trusted_proxies;  // CIDRs allowed to set X-Forwarded-For
  uint64_t shutdown_timeout_ms = 10'000;

  uint64_t body_timeout_ms = 30'000;  // from the end of the header section, however it trickles
  uint64_t min_body_rate = 1024;      // bytes/s averaged after body_rate_grace; 0: off
  uint64_t body_rate_grace_ms = 5'000;
  uint64_t write_timeout_ms = 30'000;          // an answer the peer does not read within it: closed
  uint64_t max_connections_per_address = 128;  // 0: off; trusted_proxies and unix sockets are not capped
};

struct AdminConfig {
  std::string listen = "127.0.0.1:9464";  // empty: no admin listener
  Secret token;                           // bearer token for /v1/*; empty: /v1 disabled
};

struct RedisConfig {
  std::string url = "redis://127.0.0.1:6379/0";  // may carry a password: never log it whole
  Secret password;                               // password_file; overrides a password in the url
  std::string prefix = "payhook";                // keys are "{prefix}:..."
  uint64_t store_timeout_ms = 2'000;
  // Complete events are removed this long after completion; at least every route's idempotency_ttl.
  uint64_t retention_ms = 30ull * 24 * 3'600'000;
  // redis+sentinel:// only: the sentinels' own password (sentinel_password_file), when they require one.
  Secret sentinel_password;
  // A callback is acknowledged only once this many replicas confirmed its store (WAIT); 0: on the
  // master's answer alone.
  uint64_t min_replicas = 0;
  uint64_t replica_timeout_ms = 500;  // WAIT's timeout
};

struct LogConfig {
  std::string format = "json";  // "json" or "text"
  std::string level = "info";   // debug, info, warn, error
  // Refused callbacks are logged per route at this rate after a burst; the rest are counted in a summary
  // line, so a flood cannot push the lines about stored callbacks out of journald's rate limit. 0: no limit.
  uint64_t refusals_per_second = 5;
  uint64_t refusal_burst = 20;
};

struct DeliveryConfig {
  uint64_t lease_timeout_ms = 60'000;
  uint64_t sweep_interval_ms = 5'000;
};

struct RetryPolicy {
  // Either an explicit schedule (delays before attempt 2, 3, ...) or exponential backoff.
  std::vector<uint64_t> schedule_ms{5'000, 300'000, 1'800'000, 7'200'000, 18'000'000, 36'000'000, 36'000'000};
  bool exponential = false;  // when true, schedule_ms is empty and the fields below apply
  uint64_t initial_ms = 5'000;
  double multiplier = 2.0;
  uint64_t max_interval_ms = 36'000'000;
  uint64_t max_attempts = 8;  // for exponential; a schedule allows schedule.size() + 1 attempts
  uint64_t max_age_ms = 72ull * 3'600'000;
  double jitter = 0.1;  // fraction, 0 to 1
};

struct TargetConfig {
  Location loc;
  std::string name;
  std::string url;
  std::vector<Secret> secrets;  // whsec_... lines, several during rotation
  Secret signing_key;           // whsk_... (adds v1a signatures); empty when absent
  uint64_t timeout_ms = 10'000;
  uint64_t max_in_flight = 64;
  // Circuit breaker: after this many consecutive failures (no answer, 5xx, 429) the target is probed one
  // job at a time, breaker_cooldown apart, until it answers again; 0 turns it off.
  uint64_t breaker_failures = 5;
  uint64_t breaker_cooldown_ms = 30'000;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct RouteConfig {
  Location loc;
  std::string name;
  std::string provider;  // a name from the ProviderCatalog the config was loaded with
  std::string path;      // mount point, e.g. "/hooks/github"
  std::vector<std::string> forward;
  std::string decision;
  uint64_t decision_timeout_ms = 5'000;
  std::vector<std::string> allow_ips;  // CIDRs; empty: any source
  RetryPolicy retry;
  uint64_t idempotency_ttl_s = 30ull * 24 * 3600;

  // The provider's own keys, read by the provider (handlers/<provider>/); settingsAs<T>() gives them back.
  std::shared_ptr<const ProviderSettings> settings;

  // Which keys were present in the file, with their lines, for handler-level validation messages.
  std::map<std::string, int> key_lines;

  // The provider's settings as the type it stored; null when they are another type (or absent).
  template <class Settings>
  const Settings* settingsAs() const {
    return dynamic_cast<const Settings*>(settings.get());
  }
};

struct Config {
  std::string file;  // path as given
  std::string dir;   // directory secrets are resolved against
  ServerConfig server;
  AdminConfig admin;
  RedisConfig redis;
  LogConfig log;
  DeliveryConfig delivery;
  std::vector<TargetConfig> targets;
  std::vector<RouteConfig> routes;
};

struct LoadResult {
  std::optional<Config> config;       // set when there are no errors
  std::vector<std::string> errors;    // every problem, "FILE:LINE: key: message"
  std::vector<std::string> warnings;  // e.g. inline secrets, "FILE:LINE: key: message"
};

// Where secrets come from besides the config's own directory.
struct Environment {
  std::string credentials_directory;  // $CREDENTIALS_DIRECTORY under systemd; empty otherwise
};

// `providers` are the provider names a route may give, with their keys (handlers::providerCatalog()).
LoadResult loadConfigFile(const std::string& path, const Environment& env, const ProviderCatalog& providers);
// For tests and --check: `file` is used in messages and its directory for relative secret paths.
LoadResult loadConfigString(std::string_view toml, const std::string& file, const Environment& env,
                            const ProviderCatalog& providers);

// "250ms", "5s", "10m", "2h", "7d" → milliseconds. Plain integers are refused (units are required).
std::optional<uint64_t> parseDuration(std::string_view text);
// "512", "64KiB", "1MiB", "2GiB", "64KB" (decimal) → bytes.
std::optional<uint64_t> parseSize(std::string_view text);

}  // namespace payhook::config
