// The daemon's configuration as plain structs, produced by loadConfig() from a TOML file.
// Nothing here knows sockets or Redis; secrets are already read from their files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/secret.h"
#include "config/address.h"  // parseListenAddress(), parseCidr(): the same parsing the loader validates with

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
  std::string provider;  // yoomoney, rbs, integra, payinpayout, allpay, standard-webhooks
  std::string path;      // mount point, e.g. "/hooks/github"
  std::vector<std::string> forward;
  std::string decision;
  uint64_t decision_timeout_ms = 5'000;
  std::vector<std::string> allow_ips;  // CIDRs; empty: any source
  RetryPolicy retry;
  uint64_t idempotency_ttl_s = 30ull * 24 * 3600;

  // Provider keys. Each secret was read from its `*_file` (or given inline, with a warning).
  // Text files of secrets are split into non-empty lines with surrounding white space removed.
  std::vector<Secret> secret;  // secret_file: HMAC keys or tokens (standard-webhooks: whsec_ lines)
  std::string public_key;      // public_key_file: whole file (PEM, or whpk_ lines for standard-webhooks)
  std::string shop_id;         // yoomoney
  Secret shop_password;        // yoomoney: shop_password_file
  uint64_t max_unsigned = 8 * 1024;     // yoomoney: bytes of fields the md5 does not cover, names included
  std::string checksum;                 // rbs: "hmac-sha256", "rsa", "none"
  std::string rsa_hash = "sha512";      // rbs
  std::vector<std::string> own_params;  // rbs: parameters the shop put in its callback URL (never signed)
  std::string currency = "RUB";         // rbs: ISO 4217 letters, when the callback carries no `currency`
  Secret url_token;                     // integra: url_token_file
  std::string id_param = "transaction_id";
  std::string amount_param = "amount";
  std::string user_param = "user";
  std::vector<std::string> known_users;  // integra
  std::string api_base;                  // integra
  // integra: how `k` is encrypted, exactly one of the two when api_base is set. `crypt` names a built-in
  // cipher ("base64": Integra's public example, not its real encryption); `crypt_command` runs the partner's
  // own encryptor (argv, the program's path made absolute): the JSON on its stdin, `k` from its stdout.
  std::string crypt;
  std::vector<std::string> crypt_command;
  uint64_t crypt_timeout_ms = 5'000;
  std::string crypt_key_file;  // absolute path, passed to crypt_command as CRYPT_KEY_FILE; empty: none
  // integra: declinePayment's errorCode and errorMessage when the decision target's 2xx answer is no clear
  // decision, or a refusal without its code or message.
  int64_t decline_code = 1;
  std::string decline_message = "declined by the shop";
  uint64_t timestamp_tolerance_ms = 600'000;  // payinpayout
  std::string answer = "v1";                  // allpay: "v1" or "v2"
  std::string status_form = "name";           // allpay: "name" or "digit"

  // Which keys were present in the file, with their lines, for handler-level validation messages.
  std::map<std::string, int> key_lines;
};

// The parameters the RBS gateway documents for its callbacks, all signed, then the two that carry the
// checksum. A route's `own_params` may not name any of them; handlers/rbs refuses a ';' in the values of the
// signed ones (the first kRbsSignedParamCount).
inline constexpr std::string_view kRbsBankParams[] = {
    "mdOrder",         "orderNumber",    "operation",    "status",     "amount",
    "currency",        "approvalCode",   "bindingId",    "clientId",   "maskedPan",
    "depositedAmount", "refundedAmount", "paymentState", "actionCode", "callbackCreationDate",
    "checksum",        "sign_alias"};
inline constexpr size_t kRbsSignedParamCount = 15;
static_assert(kRbsBankParams[kRbsSignedParamCount] == "checksum");

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

LoadResult loadConfigFile(const std::string& path, const Environment& env);
// For tests and --check: `file` is used in messages and its directory for relative secret paths.
LoadResult loadConfigString(std::string_view toml, const std::string& file, const Environment& env);

// "250ms", "5s", "10m", "2h", "7d" → milliseconds. Plain integers are refused (units are required).
std::optional<uint64_t> parseDuration(std::string_view text);
// "512", "64KiB", "1MiB", "2GiB", "64KB" (decimal) → bytes.
std::optional<uint64_t> parseSize(std::string_view text);

}  // namespace payhook::config
