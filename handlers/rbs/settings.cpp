#include "handlers/rbs/settings.h"

#include <algorithm>
#include <iterator>
#include <set>

#include "handlers/key_files.h"

namespace payhook::handlers::rbs {

namespace {

std::string quote(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

void readChecksumKeys(config::RouteKeys& keys, const config::RouteConfig& route, std::string_view checksum) {
  const bool has_secret = keys.has("secret_file") || keys.has("secret");
  const bool has_key = keys.has("public_key_file") || keys.has("public_key");
  auto unused = [&](std::string_view key, std::string_view used_with) {
    if (keys.has(key)) keys.error(key, "is only used with checksum = \"" + std::string(used_with) + "\"");
  };
  if (checksum == "hmac-sha256") {
    if (!has_secret) keys.missingSecret("secret", "is required with checksum = \"hmac-sha256\"");
  } else {
    for (std::string_view key : {"secret_file", "secret"}) unused(key, "hmac-sha256");
  }
  if (checksum == "rsa") {
    if (!has_key) keys.error("public_key_file", "is required with checksum = \"rsa\"");
  } else {
    for (std::string_view key : {"public_key_file", "public_key", "rsa_hash"}) unused(key, "rsa");
  }
  if (checksum == "none") {
    if (route.allow_ips.empty()) {
      keys.error("allow_ips", "must list the bank's addresses when checksum = \"none\"");
    } else {
      keys.warning("checksum", "\"none\": callbacks are trusted by source address only");
    }
  }
}

// The order-status API for expected orders: the gateway's REST base, credentials (userName and password, or a
// token) and how fast and how long to ask.
void readStatusApi(config::RouteKeys& keys, Settings& settings) {
  if (auto base = keys.string("api_base")) {
    if (!base->starts_with("http://") && !base->starts_with("https://"))
      keys.error("api_base", quote(*base) + " must start with http:// or https://");
    else
      settings.api_base = *base;
  }
  if (auto user = keys.string("api_user")) settings.api_user = *user;
  if (auto password = keys.secret("api_password")) settings.api_password = std::move(*password);
  if (auto token = keys.secret("api_token")) settings.api_token = std::move(*token);
  if (auto rate = keys.integer("poll_rate", 1)) settings.poll.rate = *rate;
  if (auto hold = keys.duration("hold_deadline", 1)) settings.poll.hold_deadline_ms = *hold;
  if (auto timeout = keys.duration("poll_timeout", 1)) settings.poll.timeout_ms = *timeout;
  const bool password = keys.has("api_password_file") || keys.has("api_password");
  const bool token = keys.has("api_token_file") || keys.has("api_token");
  const bool user = keys.has("api_user");
  if (keys.has("api_base")) {
    if (token && (user || password)) {
      keys.error("api_token_file", "give either api_token_file or api_user with api_password_file, not both");
    } else if (!token && !(user && password)) {
      keys.missingSecret(user ? "api_password" : "api_token",
                         "is required with api_base: api_user and api_password_file, or api_token_file");
    }
  } else {
    for (std::string_view key : {"api_user", "api_password_file", "api_password", "api_token_file",
                                 "api_token", "poll_rate", "hold_deadline", "poll_timeout"})
      if (keys.has(key)) keys.error(key, "is only used with api_base (the gateway's status API)");
  }
}

std::shared_ptr<const config::ProviderSettings> read(config::RouteKeys& keys,
                                                     const config::RouteConfig& route) {
  auto settings = std::make_shared<Settings>();
  auto checksum = keys.choice("checksum", {"hmac-sha256", "rsa", "none"});
  if (!checksum && !keys.has("checksum"))
    keys.error("checksum", "is required: \"hmac-sha256\", \"rsa\" or \"none\"");
  if (auto secret = keys.secretLines("secret")) settings->secret = std::move(*secret);
  if (auto key = readPemPublicKey(keys)) settings->public_key = std::move(*key);
  if (auto hash = keys.choice("rsa_hash", {"sha512", "sha256"})) settings->rsa_hash = *hash;
  std::set<std::string, std::less<>> own;
  auto check_own = [&](std::string_view name) -> std::string {
    if (name.empty()) return "must not be empty";
    if (std::find(std::begin(kBankParams), std::end(kBankParams), name) != std::end(kBankParams))
      return quote(name) + " is a parameter the bank sends";
    if (!own.emplace(name).second) return quote(name) + " is listed twice";
    return {};
  };
  if (auto names = keys.stringArray("own_params", check_own)) settings->own_params = std::move(*names);
  if (auto currency = keys.string("currency", /*allow_empty=*/true)) {
    std::string letters = *currency;
    for (char& c : letters)
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (letters.size() == 3 &&
        std::all_of(letters.begin(), letters.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
      settings->currency = std::move(letters);
    } else {
      keys.error("currency", quote(*currency) + " is not an ISO 4217 letter code such as \"RUB\"");
    }
  }
  readStatusApi(keys, *settings);
  if (checksum) {
    settings->checksum = *checksum;
    readChecksumKeys(keys, route, *checksum);
  }
  return settings;
}

}  // namespace

config::ProviderConfig providerConfig() {
  return {"rbs",
          {"checksum", "secret_file", "secret", "public_key_file", "public_key", "rsa_hash", "own_params",
           "currency", "api_base", "api_user", "api_password_file", "api_password", "api_token_file",
           "api_token", "poll_rate", "hold_deadline", "poll_timeout"},
          read};
}

}  // namespace payhook::handlers::rbs
