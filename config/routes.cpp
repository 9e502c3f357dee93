// Routes: the keys every provider shares, the provider table (README "Configuration"), and retry policies.
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <filesystem>
#include <set>

#include "config/address.h"
#include "config/loader.h"
#include "config/secret_files.h"
#include "config/units.h"

namespace payhook::config {
namespace {

struct Provider {
  std::string_view name;
  std::vector<std::string_view> keys;
};

// Each `*_file` key may also be given inline without the suffix; both spellings are listed.
const std::vector<Provider> kProviders{
    {"yoomoney", {"shop_id", "shop_password_file", "shop_password", "max_unsigned"}},
    {"rbs",
     {"checksum", "secret_file", "secret", "public_key_file", "public_key", "rsa_hash", "own_params",
      "currency"}},
    {"integra",
     {"url_token_file", "url_token", "id_param", "amount_param", "user_param", "known_users", "api_base",
      "crypt", "crypt_command", "crypt_timeout", "crypt_key_file", "crypt_key", "decline_code",
      "decline_message"}},
    {"payinpayout", {"secret_file", "secret", "timestamp_tolerance"}},
    {"allpay", {"public_key_file", "public_key", "answer", "status_form"}},
    {"standard-webhooks", {"secret_file", "secret", "public_key_file", "public_key"}},
};

const std::vector<std::string_view> kCommonRouteKeys{"name",      "provider", "path",
                                                     "forward",   "decision", "decision_timeout",
                                                     "allow_ips", "retry",    "idempotency_ttl"};

const std::vector<std::string_view> kRetryKeys{"schedule",     "backoff",      "initial", "multiplier",
                                               "max_interval", "max_attempts", "max_age", "jitter"};
const std::vector<std::string_view> kExponentialKeys{"backoff", "initial", "multiplier", "max_interval",
                                                     "max_attempts"};

const Provider* findProvider(std::string_view name) {
  for (const Provider& provider : kProviders) {
    if (provider.name == name) return &provider;
  }
  return nullptr;
}

std::string providerList() {
  std::string list;
  for (const Provider& provider : kProviders) {
    if (!list.empty()) list += ", ";
    list += provider.name;
  }
  return list;
}

bool isNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.';
}

// Why `path` cannot be a mount point, or empty when it can.
std::string checkPath(std::string_view path) {
  if (!path.starts_with('/')) return quote(path) + " must start with '/'";
  if (path == "/") return "\"/\" cannot be a mount point; use a prefix such as \"/hooks/shop\"";
  if (path.ends_with('/')) return quote(path) + " must not end with '/'";
  if (path.find('?') != std::string_view::npos) return quote(path) + " must not contain '?'";
  if (path.find('#') != std::string_view::npos) return quote(path) + " must not contain '#'";
  if (path.find("//") != std::string_view::npos) return quote(path) + " must not contain \"//\"";
  for (char c : path) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return quote(path) + " must not contain spaces or control characters";
  }
  return {};
}

bool isPem(std::string_view text) {
  return text.find("-----BEGIN ") != std::string_view::npos;
}

std::string forProvider(std::string_view provider) {
  return "for provider \"" + std::string(provider) + "\"";
}

}  // namespace

std::string Loader::checkTargetName(std::string_view name) const {
  if (target_index_.contains(name)) return {};
  std::vector<std::string_view> names;
  for (const auto& [defined, index] : target_index_) names.push_back(defined);
  std::string message = quote(name) + " is not a defined target";
  if (config_.targets.empty()) return message + " (there are no [[targets]])";
  return unknownKeyMessage(name, names, message);
}

void Loader::readRoutes(const toml::node& node) {
  const auto* array = node.as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    diag_.error(lineOf(node), "routes",
                "expected an array of tables ([[routes]]), got " + describeType(node));
    return;
  }
  for (size_t i = 0; i < array->size(); ++i) {
    TableReader t(diag_, *array->get(i)->as_table(), "routes[" + std::to_string(i) + "]");
    RouteConfig route;
    route.loc = {config_.file, t.line()};
    route.key_lines = t.keyLines();
    readRoute(t, route);
    const Provider* provider = findProvider(route.provider);
    t.reportUnread([&](std::string_view key) -> std::string {
      std::vector<std::string_view> owners;
      for (const Provider& p : kProviders) {
        if (std::find(p.keys.begin(), p.keys.end(), key) != p.keys.end()) owners.push_back(p.name);
      }
      if (!owners.empty()) {
        // With an unknown provider, the provider itself is already reported; a second message would be noise.
        if (provider == nullptr) return {};
        std::string list;
        for (std::string_view owner : owners) list += (list.empty() ? "" : ", ") + std::string(owner);
        return "not a key " + forProvider(route.provider) + "; it belongs to " + list;
      }
      std::vector<std::string_view> candidates = kCommonRouteKeys;
      if (provider != nullptr)
        candidates.insert(candidates.end(), provider->keys.begin(), provider->keys.end());
      return unknownKeyMessage(key, candidates);
    });
    config_.routes.push_back(std::move(route));
  }
}

void Loader::readRoute(TableReader& t, RouteConfig& route) {
  const size_t index = config_.routes.size();
  if (auto name = t.string("name")) {
    if (auto [it, inserted] = route_index_.emplace(*name, index); !inserted) {
      t.error("name", quote(*name) + " is already used by routes[" + std::to_string(it->second) + "] (line " +
                          std::to_string(config_.routes[it->second].loc.line) + ")");
    } else if (!std::all_of(name->begin(), name->end(), isNameChar)) {
      t.error("name", quote(*name) + " may contain only letters, digits, '-', '_' and '.'");
    }
    route.name = *name;
  } else if (!t.has("name")) {
    t.error("name", "is required");
  }

  if (auto provider = t.string("provider")) {
    if (findProvider(*provider) == nullptr) {
      t.error("provider", quote(*provider) + " is not a known provider; expected one of " + providerList());
    } else {
      route.provider = *provider;
    }
  } else if (!t.has("provider")) {
    t.error("provider", "is required; one of " + providerList());
  }

  if (auto path = t.string("path")) {
    if (std::string problem = checkPath(*path); !problem.empty()) {
      t.error("path", problem);
    } else if (auto [it, inserted] = path_index_.emplace(*path, index); !inserted) {
      t.error("path", quote(*path) + " is already used by routes[" + std::to_string(it->second) + "] (line " +
                          std::to_string(config_.routes[it->second].loc.line) + ")");
    }
    route.path = *path;
  } else if (!t.has("path")) {
    t.error("path",
            "is required, e.g. \"/hooks/" + (route.name.empty() ? std::string("shop") : route.name) + "\"");
  }

  std::set<std::string, std::less<>> forwarded;
  auto check_forward = [&](std::string_view name) -> std::string {
    if (std::string problem = checkTargetName(name); !problem.empty()) return problem;
    if (!forwarded.emplace(name).second) return quote(name) + " is listed twice";
    return {};
  };
  if (auto forward = t.stringArray("forward", check_forward)) route.forward = std::move(*forward);
  if (auto decision = t.string("decision")) {
    if (std::string problem = checkTargetName(*decision); !problem.empty()) t.error("decision", problem);
    route.decision = *decision;
  }
  if (!t.has("forward") && !t.has("decision")) {
    t.error("forward", "is required: name the [[targets]] that receive this route's events");
  } else if (t.has("forward") && t.table().get("forward")->is_array() &&
             t.table().get("forward")->as_array()->empty() && !t.has("decision")) {
    t.error("forward", "is empty: events would be stored but delivered nowhere");
  }
  if (auto v = t.duration("decision_timeout", 1)) route.decision_timeout_ms = *v;
  if (auto v = t.stringArray("allow_ips", [](std::string_view text) {
        auto cidr = parseCidr(text);
        return cidr ? std::string() : cidr.error().message;
      })) {
    route.allow_ips = std::move(*v);
  }
  if (t.has("retry")) readRetry(t, route.retry);
  if (auto v = t.duration("idempotency_ttl", 1'000)) route.idempotency_ttl_s = *v / 1'000;

  if (!route.provider.empty()) readProviderKeys(t, route);
  checkReplayWindow(t, route);
}

std::optional<std::string> Loader::readPublicKey(TableReader& t, const RouteConfig& route) {
  auto source = readSecretKey(t, "public_key", /*is_secret=*/false);
  if (!source) return std::nullopt;
  const std::string key = source->origin.empty() ? "public_key" : "public_key_file";
  const std::string where = source->origin.empty() ? std::string("the value") : source->origin;
  std::string text(source->text.reveal());
  if (route.provider == "standard-webhooks") {
    std::vector<int> line_numbers;
    const auto lines = splitKeyLines(text, &line_numbers);
    if (lines.empty()) {
      t.error(key, where + " holds no key (it is empty, blank or only comments)");
      return std::nullopt;
    }
    bool ok = true;
    for (size_t i = 0; i < lines.size(); ++i) {
      if (!isPrefixedBase64Key(lines[i].reveal(), "whpk_", 32, 32)) {
        t.error(key, "line " + std::to_string(line_numbers[i]) + " of " + where +
                         " is not whpk_<base64 of a 32-byte ed25519 public key>");
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
  } else if (!isPem(text)) {
    t.error(key, where + " does not hold a PEM public key or certificate (\"-----BEGIN ...\")");
    return std::nullopt;
  }
  return text;
}

void Loader::readProviderKeys(TableReader& t, RouteConfig& route) {
  const std::string& provider = route.provider;
  if (provider == "yoomoney") {
    if (const toml::node* node = t.find("shop_id")) {
      if (const auto* text = node->as_string(); text != nullptr && !text->get().empty()) {
        route.shop_id = text->get();
      } else if (const auto* number = node->as_integer(); number != nullptr && number->get() >= 0) {
        route.shop_id = std::to_string(number->get());
      } else if (text != nullptr) {
        t.error("shop_id", "must not be empty");
      } else {
        t.wrongType("shop_id", *node, "a string");
      }
    } else {
      t.error("shop_id", "is required " + forProvider(provider));
    }
    if (auto password = readSingleSecret(t, "shop_password")) {
      route.shop_password = std::move(*password);
    } else if (!t.has("shop_password_file") && !t.has("shop_password")) {
      reportMissingSecret(t, "shop_password", "is required " + forProvider(provider));
    }
    if (!t.has("decision")) {
      t.error("decision", "is required " + forProvider(provider) +
                              ": checkOrder asks this target before the payment is taken");
    }
    if (auto v = t.size("max_unsigned", 0)) route.max_unsigned = *v;
  } else if (provider == "rbs") {
    auto checksum = t.choice("checksum", {"hmac-sha256", "rsa", "none"});
    if (!checksum && !t.has("checksum"))
      t.error("checksum", "is required: \"hmac-sha256\", \"rsa\" or \"none\"");
    if (auto secret = readSecretLines(t, "secret")) route.secret = std::move(*secret);
    if (auto key = readPublicKey(t, route)) route.public_key = std::move(*key);
    if (auto hash = t.choice("rsa_hash", {"sha512", "sha256"})) route.rsa_hash = *hash;
    std::set<std::string, std::less<>> own;
    auto check_own = [&](std::string_view name) -> std::string {
      if (name.empty()) return "must not be empty";
      if (std::find(std::begin(kRbsBankParams), std::end(kRbsBankParams), name) != std::end(kRbsBankParams))
        return quote(name) + " is a parameter the bank sends";
      if (!own.emplace(name).second) return quote(name) + " is listed twice";
      return {};
    };
    if (auto names = t.stringArray("own_params", check_own)) route.own_params = std::move(*names);
    if (auto currency = t.string("currency", /*allow_empty=*/true)) {
      std::string letters = *currency;
      for (char& c : letters)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      if (letters.size() == 3 &&
          std::all_of(letters.begin(), letters.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
        route.currency = std::move(letters);
      } else {
        t.error("currency", quote(*currency) + " is not an ISO 4217 letter code such as \"RUB\"");
      }
    }
    if (checksum) {
      route.checksum = *checksum;
      const bool has_secret = t.has("secret_file") || t.has("secret");
      const bool has_key = t.has("public_key_file") || t.has("public_key");
      auto unused = [&](std::string_view key, std::string_view used_with) {
        if (t.has(key)) t.error(key, "is only used with checksum = \"" + std::string(used_with) + "\"");
      };
      if (*checksum == "hmac-sha256") {
        if (!has_secret) reportMissingSecret(t, "secret", "is required with checksum = \"hmac-sha256\"");
      } else {
        for (std::string_view key : {"secret_file", "secret"}) unused(key, "hmac-sha256");
      }
      if (*checksum == "rsa") {
        if (!has_key) t.error("public_key_file", "is required with checksum = \"rsa\"");
      } else {
        for (std::string_view key : {"public_key_file", "public_key", "rsa_hash"}) unused(key, "rsa");
      }
      if (*checksum == "none") {
        if (route.allow_ips.empty()) {
          t.error("allow_ips", "must list the bank's addresses when checksum = \"none\"");
        } else {
          t.warning("checksum", "\"none\": callbacks are trusted by source address only");
        }
      }
    }
  } else if (provider == "integra") {
    if (auto token = readSingleSecret(t, "url_token")) {
      if (checkTokenLength(t, "url_token", *token)) route.url_token = std::move(*token);
    } else if (!t.has("url_token_file") && !t.has("url_token")) {
      reportMissingSecret(t, "url_token", "is required " + forProvider(provider));
    }
    if (auto v = t.string("id_param")) route.id_param = *v;
    if (auto v = t.string("amount_param")) route.amount_param = *v;
    if (auto v = t.string("user_param")) route.user_param = *v;
    if (auto v = t.stringArray("known_users")) route.known_users = std::move(*v);
    if (auto base = t.string("api_base")) {
      if (!base->starts_with("http://") && !base->starts_with("https://")) {
        t.error("api_base", quote(*base) + " must start with http:// or https://");
      }
      route.api_base = *base;
    }
    readIntegraCipher(t, route);
    if (auto code = t.integer("decline_code", 1)) {
      // Integra's errorCode is a PHP integer; a 32-bit one is safe on every build of it.
      if (*code > static_cast<uint64_t>(INT32_MAX)) {
        t.error("decline_code", "must be at most " + std::to_string(INT32_MAX));
      } else {
        route.decline_code = static_cast<int64_t>(*code);
      }
    }
    if (auto message = t.string("decline_message")) route.decline_message = std::move(*message);
    if (!t.has("decision")) {
      t.error("decision", "is required " + forProvider(provider) +
                              ": its answer decides between confirmPayment and declinePayment");
    } else if (!t.has("api_base")) {
      t.error("api_base",
              "is required " + forProvider(provider) + ": confirmPayment and declinePayment are sent there");
    }
  } else if (provider == "payinpayout") {
    if (auto secret = readSecretLines(t, "secret")) {
      route.secret = std::move(*secret);
    } else if (!t.has("secret_file") && !t.has("secret")) {
      reportMissingSecret(t, "secret", "is required " + forProvider(provider));
    }
    if (auto v = t.duration("timestamp_tolerance", 1'000)) route.timestamp_tolerance_ms = *v;
  } else if (provider == "allpay") {
    if (auto key = readPublicKey(t, route)) {
      route.public_key = std::move(*key);
    } else if (!t.has("public_key_file") && !t.has("public_key")) {
      t.error("public_key_file", "is required " + forProvider(provider) + " (allpay's PEM public key)");
    }
    if (auto v = t.choice("answer", {"v1", "v2"})) route.answer = *v;
    if (auto v = t.choice("status_form", {"name", "digit"})) route.status_form = *v;
  } else if (provider == "standard-webhooks") {
    // Inbound secrets come from the sender, so any length it chose is accepted.
    if (auto secret = readSecretLines(t, "secret", "whsec_", 1, SIZE_MAX)) route.secret = std::move(*secret);
    if (auto key = readPublicKey(t, route)) route.public_key = std::move(*key);
    if (!t.has("secret_file") && !t.has("secret") && !t.has("public_key_file") && !t.has("public_key")) {
      reportMissingSecret(
          t, "secret", "is required " + forProvider(provider) + " (or public_key_file for v1a signatures)");
    }
  }
}

void Loader::readIntegraCipher(TableReader& t, RouteConfig& route) {
  if (auto crypt = t.string("crypt")) {
    if (*crypt == "base64") {
      route.crypt = *crypt;
    } else {
      t.error("crypt",
              quote(*crypt) +
                  " is not a built-in cipher; the only one is \"base64\" (Integra's public example): "
                  "run Integra's real one through crypt_command");
    }
  }
  if (const toml::node* node = t.find("crypt_command")) {
    const auto* array = node->as_array();
    if (array == nullptr) {
      t.wrongType("crypt_command", *node, "an array of strings");
    } else if (array->empty()) {
      t.error("crypt_command", "must name the encryptor, e.g. [\"/usr/local/bin/integra-encrypt\"]");
    } else {
      std::vector<std::string> argv;
      for (size_t i = 0; i < array->size(); ++i) {
        const toml::node& element = *array->get(i);
        const auto* text = element.as_string();
        std::string problem;
        if (text == nullptr) {
          problem = "expected a string, got " + describeType(element);
        } else if (text->get().find('\0') != std::string::npos) {
          problem = "must not contain NUL";
        } else if (i == 0 && text->get().empty()) {
          problem = "must not be empty";
        } else if (i == 0) {
          // Like secret files: a relative program is found beside the config, and run by its absolute path.
          std::filesystem::path program(text->get());
          if (program.is_relative()) program = std::filesystem::path(config_.dir) / program;
          std::error_code ec;
          program = std::filesystem::absolute(program, ec).lexically_normal();
          if (!std::filesystem::exists(program, ec)) {
            problem = program.string() + " does not exist";
          } else if (!std::filesystem::is_regular_file(program, ec) || ::access(program.c_str(), X_OK) != 0) {
            problem = program.string() + " is not an executable file";
          } else {
            argv.push_back(program.string());
          }
        } else {
          argv.push_back(text->get());
        }
        if (!problem.empty())
          diag_.error(lineOf(element), t.keyPath("crypt_command") + "[" + std::to_string(i) + "]", problem);
      }
      if (argv.size() == array->size()) route.crypt_command = std::move(argv);
    }
  }
  if (auto v = t.duration("crypt_timeout", 1)) {
    if (!t.has("crypt_command")) {
      t.error("crypt_timeout", "is only used with crypt_command");
    } else {
      route.crypt_timeout_ms = *v;
    }
  }
  if (t.has("crypt") && t.has("crypt_command")) {
    t.error("crypt_command", "give either crypt or crypt_command, not both");
  } else if (!t.has("crypt") && !t.has("crypt_command") && t.has("api_base")) {
    t.error(
        "crypt",
        "is required with api_base: crypt = \"base64\" (Integra's public example, not its real encryption) "
        "or crypt_command = [\"/path/to/encryptor\", ...]");
  }

  // The key is the partner's encryptor's business: its file is passed to crypt_command as CRYPT_KEY_FILE,
  // and an inline key could reach nothing.
  if (t.has("crypt_key")) {
    t.find("crypt_key");
    t.find("crypt_key_file");
    t.error("crypt_key",
            "an inline key reaches nothing: put it in a file and give crypt_key_file, which crypt_command "
            "receives as CRYPT_KEY_FILE");
  } else if (t.has("crypt_key_file")) {
    if (auto key = readSecretKey(t, "crypt_key")) {
      if (key->text.reveal().empty()) {
        t.error("crypt_key_file", key->origin + " holds no key (it is empty)");
      } else if (!t.has("crypt_command")) {
        t.error("crypt_key_file",
                std::string("nothing would use it: ") +
                    (t.has("crypt") ? "crypt = \"base64\" takes no key" : "there is no crypt_command") +
                    " (a key file is passed only to crypt_command, as CRYPT_KEY_FILE)");
      } else {
        std::error_code ec;
        route.crypt_key_file = std::filesystem::absolute(key->origin, ec).lexically_normal().string();
      }
    }
  }
}

void Loader::readRetry(TableReader& parent, RetryPolicy& policy) {
  const toml::table* table = parent.subtable("retry");
  if (table == nullptr) return;
  TableReader t(diag_, *table, parent.keyPath("retry"));
  if (t.has("schedule")) {
    bool mixed = false;
    for (std::string_view key : kExponentialKeys) {
      if (t.find(key) != nullptr) {
        t.error(key, "cannot be combined with schedule; use either schedule or backoff = \"exponential\"");
        mixed = true;
      }
    }
    const toml::node* node = t.find("schedule");
    const auto* array = node->as_array();
    if (array == nullptr) {
      t.wrongType("schedule", *node, "an array of durations");
    } else if (array->empty()) {
      t.error("schedule", "must list at least one delay, e.g. [\"5s\", \"5m\", \"30m\"]");
    } else {
      std::vector<uint64_t> schedule;
      bool ok = true;
      for (size_t i = 0; i < array->size(); ++i) {
        const toml::node& element = *array->get(i);
        const std::string key = t.keyPath("schedule") + "[" + std::to_string(i) + "]";
        const auto* text = element.as_string();
        if (text == nullptr) {
          diag_.error(lineOf(element), key,
                      "expected a duration string such as \"5m\", got " + describeType(element) +
                          (element.is_integer() ? "; units are required" : ""));
          ok = false;
          continue;
        }
        auto delay = parseDurationExplained(text->get());
        if (!delay) {
          diag_.error(lineOf(element), key, delay.error().message);
          ok = false;
        } else if (*delay == 0) {
          diag_.error(lineOf(element), key, "must be positive");
          ok = false;
        } else {
          schedule.push_back(*delay);
        }
      }
      if (ok && !mixed) {
        policy.schedule_ms = std::move(schedule);
        policy.exponential = false;
      }
    }
  } else if (t.has("backoff")) {
    if (t.choice("backoff", {"exponential"})) {
      policy.exponential = true;
      // One source of truth for the scheduler: an exponential policy carries no schedule.
      policy.schedule_ms.clear();
    }
    if (auto v = t.duration("initial", 1)) policy.initial_ms = *v;
    if (auto v = t.number("multiplier", 1.0, std::numeric_limits<double>::infinity())) policy.multiplier = *v;
    if (auto v = t.duration("max_interval", 1)) policy.max_interval_ms = *v;
    if (auto v = t.integer("max_attempts", 1)) policy.max_attempts = *v;
    if (policy.max_interval_ms < policy.initial_ms) {
      t.error(t.has("max_interval") ? "max_interval" : "initial",
              "max_interval (" + formatDuration(policy.max_interval_ms) + ") is shorter than initial (" +
                  formatDuration(policy.initial_ms) + ")");
    }
  } else {
    for (std::string_view key : kExponentialKeys) {
      if (t.find(key) != nullptr)
        t.error(key, "needs backoff = \"exponential\" (or give a schedule instead)");
    }
  }
  if (auto v = t.duration("max_age", 1)) policy.max_age_ms = *v;
  if (auto v = t.number("jitter", 0.0, 1.0)) policy.jitter = *v;
  t.reportUnread([](std::string_view key) { return unknownKeyMessage(key, kRetryKeys); });
}

}  // namespace payhook::config
