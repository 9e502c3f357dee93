#include "config/config.h"

#include "common/redis_url.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/webhook_signature.h"
#include "config/address.h"
#include "config/headers_file.h"
#include "config/loader.h"
#include "config/secret_files.h"
#include "config/units.h"

namespace payhook::config {
namespace {

// A delivery attempt must finish (or time out) well before its lease expires, or a second instance could
// claim the event while the first is still sending it.
constexpr uint64_t kLeaseMarginMs = 5'000;

const std::vector<std::string_view> kSections{"server",   "admin",   "redis", "log",
                                              "delivery", "targets", "routes"};
// clang-format off
const std::vector<std::string_view> kServerKeys{"listen",          "max_body",        "max_header_bytes",
                                                "max_headers",     "header_timeout",  "idle_timeout",
                                                "max_connections", "trusted_proxies", "shutdown_timeout",
                                                "body_timeout", "min_body_rate", "body_rate_grace",
                                                "write_timeout", "max_connections_per_address"};
// clang-format on
const std::vector<std::string_view> kAdminKeys{"listen", "token_file", "token"};
const std::vector<std::string_view> kRedisKeys{
    "url",           "prefix",         "store_timeout",     "password",
    "password_file", "retention",      "sentinel_password", "sentinel_password_file",
    "min_replicas",  "replica_timeout"};
const std::vector<std::string_view> kLogKeys{"format", "level", "refusals_per_second", "refusal_burst"};
const std::vector<std::string_view> kDeliveryKeys{"lease_timeout", "sweep_interval"};
const std::vector<std::string_view> kTargetKeys{
    "name",    "url",           "secret_file", "secret",           "signing_key_file", "signing_key",
    "timeout", "max_in_flight", "headers",     "breaker_failures", "breaker_cooldown", "headers_file"};

std::string checkCidr(std::string_view text) {
  auto cidr = parseCidr(text);
  return cidr ? std::string() : cidr.error().message;
}

bool isNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.';
}

}  // namespace

Loader::Loader(std::string file, const Environment& env, const ProviderCatalog& providers)
    : diag_(file), env_(env), providers_(providers) {
  config_.file = std::move(file);
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(config_.file, ec);
  if (ec) absolute = config_.file;
  config_.dir = absolute.lexically_normal().parent_path().string();
}

LoadResult Loader::load(std::string_view text) {
  LoadResult result;
  toml::table root;
  try {
    root = toml::parse(text, std::string_view(config_.file));
  } catch (const toml::parse_error& error) {
    diag_.fileError(static_cast<int>(error.source().begin.line), error.description());
    result.errors = diag_.errors();
    return result;
  }
  readRoot(root);
  result.errors = diag_.errors();
  result.warnings = diag_.warnings();
  if (result.errors.empty()) result.config = std::move(config_);
  return result;
}

void Loader::readRoot(const toml::table& root) {
  TableReader reader(diag_, root, "");
  auto section = [&](std::string_view name, void (Loader::*read)(TableReader&),
                     const std::vector<std::string_view>& keys) {
    const toml::table* table = reader.subtable(name);
    if (table == nullptr) return;
    TableReader t(diag_, *table, std::string(name));
    (this->*read)(t);
    t.reportUnread([&](std::string_view key) { return unknownKeyMessage(key, keys); });
  };
  section("server", &Loader::readServer, kServerKeys);
  section("admin", &Loader::readAdmin, kAdminKeys);
  section("redis", &Loader::readRedis, kRedisKeys);
  section("log", &Loader::readLog, kLogKeys);
  section("delivery", &Loader::readDelivery, kDeliveryKeys);
  // Targets first: routes refer to them by name.
  if (const toml::node* targets = reader.find("targets")) readTargets(*targets, reader.line());
  if (const toml::node* routes = reader.find("routes")) {
    readRoutes(*routes);
  } else {
    diag_.error(1, "routes", "no [[routes]] defined; payhookd would answer every callback with 404");
  }
  reader.reportUnread([&](std::string_view key) {
    const toml::node* node = root.get(key);
    const bool looks_like_section = node != nullptr && (node->is_table() || node->is_array_of_tables());
    return unknownKeyMessage(key, kSections, looks_like_section ? "unknown section" : "unknown key");
  });
  checkLeaseTimeout();
  checkRetention();
}

void Loader::readServer(TableReader& t) {
  ServerConfig& server = config_.server;
  if (const toml::node* node = t.find("listen")) {
    std::vector<std::string> listen;
    auto check = [&](const std::string& key, const toml::node& element) {
      const auto* text = element.as_string();
      if (text == nullptr) {
        diag_.error(lineOf(element), key, "expected a string, got " + describeType(element));
        return;
      }
      if (auto address = parseListenAddress(text->get()); !address) {
        diag_.error(lineOf(element), key, quote(text->get()) + ": " + address.error().message);
        return;
      }
      if (std::find(listen.begin(), listen.end(), text->get()) != listen.end()) {
        diag_.error(lineOf(element), key, quote(text->get()) + " is listed twice");
        return;
      }
      listen.push_back(text->get());
    };
    if (node->is_string()) {
      check(t.keyPath("listen"), *node);
    } else if (const auto* array = node->as_array()) {
      if (array->empty()) t.error("listen", "must name at least one address");
      for (size_t i = 0; i < array->size(); ++i) {
        check(t.keyPath("listen") + "[" + std::to_string(i) + "]", *array->get(i));
      }
    } else {
      t.wrongType("listen", *node, "a string or an array of strings");
    }
    server.listen = std::move(listen);
  }
  if (auto v = t.size("max_body", 1)) server.max_body = *v;
  if (auto v = t.size("max_header_bytes", 1)) server.max_header_bytes = *v;
  if (auto v = t.integer("max_headers", 1)) server.max_headers = *v;
  if (auto v = t.duration("header_timeout", 1)) server.header_timeout_ms = *v;
  if (auto v = t.duration("idle_timeout", 1)) server.idle_timeout_ms = *v;
  if (auto v = t.integer("max_connections", 1)) server.max_connections = *v;
  // "unix" trusts the local reverse proxy that connects over a unix-socket listener.
  if (auto v = t.stringArray("trusted_proxies", [](std::string_view text) {
        return text == "unix" ? std::string() : checkCidr(text);
      }))
    server.trusted_proxies = std::move(*v);
  if (auto v = t.duration("shutdown_timeout", 1)) server.shutdown_timeout_ms = *v;
  // Slow peers: the body's deadline and rate, the answer's deadline, connections per address.
  if (auto v = t.duration("body_timeout", 1)) server.body_timeout_ms = *v;
  if (auto v = t.size("min_body_rate", 0)) server.min_body_rate = *v;
  if (auto v = t.duration("body_rate_grace", 0)) server.body_rate_grace_ms = *v;
  if (auto v = t.duration("write_timeout", 1)) server.write_timeout_ms = *v;
  if (auto v = t.integer("max_connections_per_address", 0)) server.max_connections_per_address = *v;
  if (server.min_body_rate > 0 && server.body_rate_grace_ms >= server.body_timeout_ms) {
    const std::string_view key = t.has("body_rate_grace") ? "body_rate_grace" : "body_timeout";
    t.error(key, "body_rate_grace (" + formatDuration(server.body_rate_grace_ms) +
                     ") must be shorter than body_timeout (" + formatDuration(server.body_timeout_ms) +
                     "), or min_body_rate never applies; min_body_rate = 0 turns the rate off");
  }
}

void Loader::readAdmin(TableReader& t) {
  AdminConfig& admin = config_.admin;
  // An empty string is allowed: it turns the admin listener off.
  if (auto listen = t.string("listen", true)) {
    if (!listen->empty()) {
      if (auto address = parseListenAddress(*listen); !address) {
        t.error("listen", quote(*listen) + ": " + address.error().message);
      }
    }
    admin.listen = *listen;
  }
  if (auto token = readSingleSecret(t, "token"); token && checkTokenLength(t, "token", *token))
    admin.token = std::move(*token);
}

void Loader::readRedis(TableReader& t) {
  RedisConfig& redis = config_.redis;
  // The URL may carry a password, so messages describe it without echoing it.
  if (auto url = t.string("url")) {
    // The store connects with the same parser, so a URL that passes here is one it can use.
    if (auto parsed = parseRedisUrl(*url); !parsed) {
      t.error("url", parsed.error().message);
    } else if (!parsed->password.empty()) {
      t.warning("url", "carries the Redis password inline; prefer password_file");
    }
    redis.url = *url;
  }
  if (auto password = readSingleSecret(t, "password")) redis.password = std::move(*password);
  if (auto prefix = t.string("prefix", true)) {
    if (prefix->empty()) {
      t.error("prefix", "must not be empty");
    } else if (prefix->find_first_of("{}") != std::string::npos) {
      t.error("prefix", "must not contain '{' or '}' (payhook adds the {prefix} hash tag itself)");
    } else {
      redis.prefix = *prefix;
    }
  }
  if (auto v = t.duration("store_timeout", 1)) redis.store_timeout_ms = *v;
  if (auto v = t.duration("retention", 1'000)) redis.retention_ms = *v;
  if (t.has("retention")) retention_line_ = t.lineOf("retention");
  if (auto password = readSingleSecret(t, "sentinel_password")) {
    if (auto parsed = parseRedisUrl(redis.url); parsed && parsed->mode != RedisMode::kSentinel)
      t.error(t.has("sentinel_password") ? "sentinel_password" : "sentinel_password_file",
              "is for a redis+sentinel:// url only");
    else
      redis.sentinel_password = std::move(*password);
  }
  if (auto v = t.integer("min_replicas", 0)) {
    if (*v > 16)
      t.error("min_replicas", "must be at most 16");
    else
      redis.min_replicas = *v;
  }
  if (auto v = t.duration("replica_timeout", 1)) {
    // A WAIT holds the store's one connection: everything queued behind it waits as long.
    if (*v > 10'000)
      t.error("replica_timeout", "must be at most 10s: every command waits behind a WAIT");
    else
      redis.replica_timeout_ms = *v;
  }
  // WAIT is a command like any other: if it outlived store_timeout the connection would be dropped.
  if (redis.min_replicas > 0 && redis.replica_timeout_ms >= redis.store_timeout_ms)
    t.error(t.has("replica_timeout") ? "replica_timeout" : "min_replicas",
            "replica_timeout (" + std::to_string(redis.replica_timeout_ms) +
                " ms) must be shorter than store_timeout (" + std::to_string(redis.store_timeout_ms) +
                " ms)");
}

void Loader::readLog(TableReader& t) {
  if (auto v = t.choice("format", {"json", "text"})) config_.log.format = *v;
  if (auto v = t.choice("level", {"debug", "info", "warn", "error"})) config_.log.level = *v;
  if (auto v = t.integer("refusals_per_second", 0)) config_.log.refusals_per_second = *v;
  if (auto v = t.integer("refusal_burst", 1)) config_.log.refusal_burst = *v;
}

void Loader::readDelivery(TableReader& t) {
  if (auto v = t.duration("lease_timeout", 1)) config_.delivery.lease_timeout_ms = *v;
  if (t.has("lease_timeout"))
    lease_line_ = t.lineOf("lease_timeout");
  else
    lease_line_ = t.line();
  if (auto v = t.duration("sweep_interval", 1)) config_.delivery.sweep_interval_ms = *v;
}

void Loader::readTargets(const toml::node& node, int root_line) {
  const auto* array = node.as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    diag_.error(node.is_array() ? lineOf(node) : root_line, "targets",
                "expected an array of tables ([[targets]]), got " + describeType(node));
    return;
  }
  for (size_t i = 0; i < array->size(); ++i) {
    TableReader t(diag_, *array->get(i)->as_table(), "targets[" + std::to_string(i) + "]");
    TargetConfig target;
    target.loc = {config_.file, t.line()};
    readTarget(t, target);
    t.reportUnread([](std::string_view key) { return unknownKeyMessage(key, kTargetKeys); });
    target_timeout_lines_.push_back(t.lineOf("timeout"));
    config_.targets.push_back(std::move(target));
  }
}

void Loader::readTarget(TableReader& t, TargetConfig& target) {
  if (auto name = t.string("name")) {
    // Registered even when badly spelled, so routes naming it get no second, misleading error.
    if (auto [it, inserted] = target_index_.emplace(*name, config_.targets.size()); !inserted) {
      t.error("name", quote(*name) + " is already used by targets[" + std::to_string(it->second) +
                          "] (line " + std::to_string(config_.targets[it->second].loc.line) + ")");
    } else if (!std::all_of(name->begin(), name->end(), isNameChar)) {
      t.error("name", quote(*name) + " may contain only letters, digits, '-', '_' and '.'");
    }
    target.name = *name;
  } else if (!t.has("name")) {
    t.error("name", "is required");
  }

  if (auto url = t.string("url")) {
    const bool http = url->starts_with("http://") && url->size() > 7;
    const bool https = url->starts_with("https://") && url->size() > 8;
    if (!http && !https) t.error("url", quote(*url) + " must start with http:// or https:// and name a host");
    if (url->find_first_of(" \t\r\n") != std::string::npos) t.error("url", "must not contain white space");
    target.url = *url;
  } else if (!t.has("url")) {
    t.error("url", "is required");
  }

  // Standard Webhooks: payhook signs with these, so they are ours to choose; the spec asks for 24 to 64
  // bytes.
  if (auto secrets = readSecretLines(t, "secret", "whsec_", 24, 64)) {
    target.secrets = std::move(*secrets);
  } else if (!t.has("secret_file") && !t.has("secret")) {
    reportMissingSecret(t, "secret", "is required: apps verify every delivery with it (one whsec_ per line)");
  }
  if (t.has("signing_key_file") || t.has("signing_key")) {
    // A 32-byte ed25519 seed or a 64-byte libsodium secret key.
    if (auto key = readSecretLines(t, "signing_key", "whsk_", 32, 64)) {
      const auto& first = key->front();
      const char* name = t.has("signing_key") ? "signing_key" : "signing_key_file";
      if (!isPrefixedBase64Key(first.reveal(), "whsk_", 32, 32) &&
          !isPrefixedBase64Key(first.reveal(), "whsk_", 64, 64)) {
        t.error(name, "must be a 32-byte seed or a 64-byte key");
      } else if (auto decoded = swh::decodeSigningKey(first.reveal()); !decoded) {
        t.error(name, decoded.error().message);
      } else {
        target.signing_key = std::move(key->front());
      }
    }
  }
  if (auto v = t.duration("timeout", 1)) target.timeout_ms = *v;
  if (auto v = t.integer("max_in_flight", 1)) target.max_in_flight = *v;
  if (auto v = t.integer("breaker_failures", 0)) target.breaker_failures = *v;
  if (auto v = t.duration("breaker_cooldown", 1)) target.breaker_cooldown_ms = *v;

  if (const toml::table* headers = t.subtable("headers")) {
    for (auto&& [key, node] : *headers) {
      const std::string name(key.str());
      const std::string path = t.keyPath("headers") + "." + name;
      const auto* value = node.as_string();
      if (value == nullptr) {
        diag_.error(lineOf(node), path, "expected a string, got " + describeType(node));
        continue;
      }
      // Header values often carry tokens: describe the problem, never the value.
      if (std::string problem = headerProblem(name, value->get()); !problem.empty()) {
        diag_.error(lineOf(node), path, problem);
        continue;
      }
      target.headers.emplace_back(name, value->get());
    }
  }
  readHeadersFile(t, target);
}

void Loader::checkLeaseTimeout() {
  const uint64_t lease = config_.delivery.lease_timeout_ms;
  for (size_t i = 0; i < config_.targets.size(); ++i) {
    const TargetConfig& target = config_.targets[i];
    if (lease > target.timeout_ms + kLeaseMarginMs) continue;
    const int line = lease_line_ ? *lease_line_ : target_timeout_lines_[i];
    diag_.error(line, "delivery.lease_timeout",
                formatDuration(lease) + " must exceed every target's timeout plus a " +
                    formatDuration(kLeaseMarginMs) + " margin; targets[" + std::to_string(i) + "] (" +
                    quote(target.name) + ") has timeout " + formatDuration(target.timeout_ms) +
                    ", so lease_timeout must be more than " +
                    formatDuration(target.timeout_ms + kLeaseMarginMs));
  }
  // A provider's preparation step (an external program) and its follow-up call run under one lease.
  for (size_t i = 0; i < config_.routes.size(); ++i) {
    const RouteConfig& route = config_.routes[i];
    const auto step = route.settings ? route.settings->preparation() : std::nullopt;
    if (!step || step->timeout_ms < lease / 2) continue;
    auto line = route.key_lines.find(step->key);
    diag_.error(line != route.key_lines.end() ? line->second : route.loc.line,
                "routes[" + std::to_string(i) + "]." + step->key,
                formatDuration(step->timeout_ms) + " must be less than half of delivery.lease_timeout (" +
                    formatDuration(lease) + "): the API call needs the other half");
  }
}

// Removing an event whose idempotency key still lives would store a provider's repeat as a new event.
void Loader::checkRetention() {
  const uint64_t retention = config_.redis.retention_ms;
  for (size_t i = 0; i < config_.routes.size(); ++i) {
    const RouteConfig& route = config_.routes[i];
    if (route.idempotency_ttl_s * 1'000 <= retention) continue;
    auto ttl_line = route.key_lines.find("idempotency_ttl");
    const int line = retention_line_                     ? *retention_line_
                     : ttl_line != route.key_lines.end() ? ttl_line->second
                                                         : route.loc.line;
    diag_.error(line, "redis.retention",
                formatDuration(retention) + " is shorter than routes[" + std::to_string(i) + "] (" +
                    quote(route.name) + ")'s idempotency_ttl of " +
                    formatDuration(route.idempotency_ttl_s * 1'000) +
                    ": an event removed before its idempotency key expires would let the provider's repeat "
                    "be stored and delivered again; raise retention or lower idempotency_ttl");
  }
}

std::optional<Loader::SecretText> Loader::readSecretKey(TableReader& t, std::string_view base,
                                                        bool is_secret) {
  const std::string file_key = std::string(base) + "_file";
  const bool has_file = t.has(file_key);
  const bool has_inline = t.has(base);
  if (has_file && has_inline) {
    t.find(file_key);
    t.find(base);
    t.error(base, "give either " + std::string(base) + " or " + file_key + ", not both");
    return std::nullopt;
  }
  if (has_file) {
    auto written = t.string(file_key);
    if (!written) return std::nullopt;
    auto file = readSecretFile(*written, config_.dir, env_);
    if (!file) {
      t.error(file_key, file.error().message);
      return std::nullopt;
    }
    if (is_secret) warnIfExposed(t, file_key, *file);
    return SecretText{std::move(file->text), file->path};
  }
  if (has_inline) {
    const toml::node* node = t.find(base);
    const auto* value = node->as_string();
    if (value == nullptr) {
      t.wrongType(base, *node, "a string");
      return std::nullopt;
    }
    if (is_secret) t.warning(base, "secret given inline; prefer " + file_key);
    return SecretText{Secret(value->get()), ""};
  }
  return std::nullopt;
}

std::optional<std::vector<Secret>> Loader::readSecretLines(TableReader& t, std::string_view base,
                                                           std::string_view key_prefix, size_t min_bytes,
                                                           size_t max_bytes) {
  auto source = readSecretKey(t, base);
  if (!source) return std::nullopt;
  const bool from_file = !source->origin.empty();
  const std::string key = from_file ? std::string(base) + "_file" : std::string(base);
  std::vector<int> line_numbers;
  std::vector<Secret> lines = splitKeyLines(source->text.reveal(), &line_numbers);
  if (lines.empty()) {
    t.error(key, from_file ? source->origin + " holds no secret (it is empty, blank or only comments)"
                           : "must not be blank");
    return std::nullopt;
  }
  if (!key_prefix.empty()) {
    bool ok = true;
    for (size_t i = 0; i < lines.size(); ++i) {
      if (isPrefixedBase64Key(lines[i].reveal(), key_prefix, min_bytes, max_bytes)) continue;
      const std::string where = from_file
                                    ? "line " + std::to_string(line_numbers[i]) + " of " + source->origin
                                    : "line " + std::to_string(line_numbers[i]) + " of the value";
      std::string range = std::to_string(min_bytes) + " to " + std::to_string(max_bytes) + " bytes";
      if (max_bytes == 0 || max_bytes == SIZE_MAX) range = "at least " + std::to_string(min_bytes) + " bytes";
      t.error(key, where + " is not " + std::string(key_prefix) + "<base64 of " + range + ">");
      ok = false;
    }
    if (!ok) return std::nullopt;
  }
  return lines;
}

std::optional<Secret> Loader::readSingleSecret(TableReader& t, std::string_view base) {
  // A password or token is taken exactly as written, less the line break an editor adds: it may begin
  // with '#' or hold spaces, which the key-file rule (notes, trimming) would silently change.
  auto source = readSecretKey(t, base);
  if (!source) return std::nullopt;
  std::string_view text = source->text.reveal();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  const bool from_file = !source->origin.empty();
  if (text.find('\n') != std::string_view::npos) {
    t.error(from_file ? std::string(base) + "_file" : std::string(base),
            (from_file ? source->origin : std::string("the value")) + " must hold one line");
    return std::nullopt;
  }
  if (text.empty()) {
    t.error(from_file ? std::string(base) + "_file" : std::string(base),
            from_file ? source->origin + " holds no secret (it is empty)" : "must not be empty");
    return std::nullopt;
  }
  return Secret(std::string(text));
}

void Loader::reportMissingSecret(TableReader& t, std::string_view base, std::string_view why) {
  t.error(std::string(base) + "_file", why);
}

LoadResult loadConfigString(std::string_view toml, const std::string& file, const Environment& env,
                            const ProviderCatalog& providers) {
  return Loader(file, env, providers).load(toml);
}

LoadResult loadConfigFile(const std::string& path, const Environment& env, const ProviderCatalog& providers) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    // An ifstream opens a directory and then reads nothing, which would look like an empty config.
    LoadResult result;
    result.errors.push_back(path + ": cannot read: is a directory");
    return result;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult result;
    result.errors.push_back(path + ": cannot read: " + std::strerror(errno));
    return result;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    LoadResult result;
    result.errors.push_back(path + ": cannot read: " + std::strerror(errno));
    return result;
  }
  return loadConfigString(text.str(), path, env, providers);
}

}  // namespace payhook::config
