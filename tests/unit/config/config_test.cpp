#include "config/config.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "config/address.h"
#include "handlers/allpay/settings.h"
#include "handlers/integra/settings.h"
#include "handlers/payinpayout/settings.h"
#include "handlers/rbs/settings.h"
#include "handlers/registry.h"
#include "handlers/robokassa/settings.h"
#include "handlers/standard_webhooks/settings.h"
#include "handlers/tbank/settings.h"
#include "handlers/yookassa/settings.h"
#include "handlers/yoomoney/settings.h"

namespace payhook::config {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// A route's provider settings, as the provider read them.
template <class Settings>
const Settings& settingsOf(const RouteConfig& route) {
  const Settings* settings = route.settingsAs<Settings>();
  if (settings == nullptr) throw std::logic_error("route \"" + route.name + "\" has other settings");
  return *settings;
}

// The secrets of a route whose provider has them (rbs, payinpayout, standard-webhooks).
const std::vector<Secret>& secretOf(const RouteConfig& route) {
  if (const auto* s = route.settingsAs<handlers::rbs::Settings>()) return s->secret;
  if (const auto* s = route.settingsAs<handlers::payinpayout::Settings>()) return s->secret;
  return settingsOf<handlers::standard_webhooks::Settings>(route).secret;
}

const std::string& publicKeyOf(const RouteConfig& route) {
  if (const auto* s = route.settingsAs<handlers::rbs::Settings>()) return s->public_key;
  if (const auto* s = route.settingsAs<handlers::allpay::Settings>()) return s->public_key;
  return settingsOf<handlers::standard_webhooks::Settings>(route).public_key;
}

// Made-up keys: each is valid base64 of the size its prefix needs.
constexpr std::string_view kOrdersSecret = "whsec_bc+ivVGMTrYO01zpxlM3PikqN14cihZ90mzZIl9SDB8=";  // 32 bytes
constexpr std::string_view kOrdersSecret2 = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";             // 24 bytes
constexpr std::string_view kSigningKey = "whsk_8DtI2vR9Cyg0wNL0x7oLlDB0Fmy0zGZxxWZIRaoTUr0=";     // 32 bytes
constexpr std::string_view kPublicKey = "whpk_F2nswkM6rgTM1KqRCU3uHSP8VRKBZuZSkLhYn2JFbW0=";      // 32 bytes
constexpr std::string_view kPem =
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n";

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "payhook-config-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    write("orders.whsec", std::string(kOrdersSecret) + "\n");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const fs::path& relative, std::string_view content) {
    const fs::path path = dir_ / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << content;
    // As an operator keeps secrets: a file others can read is warned about.
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
  }
  std::string file() const { return (dir_ / "payhook.toml").string(); }
  // "FILE:LINE: rest", the shape of every message.
  std::string at(int line, std::string_view rest) const {
    return file() + ":" + std::to_string(line) + ": " + std::string(rest);
  }
  LoadResult load(std::string_view toml, const Environment& env = {}) {
    return loadConfigString(toml, file(), env, handlers::providerCatalog());
  }

  fs::path dir_;
};

// The smallest valid config: tests that exercise one key append a route or a section to it.
constexpr std::string_view kTarget = R"(
[[targets]]
name = "orders"
url = "http://127.0.0.1:9000/payhook"
secret_file = "orders.whsec"
)";  // lines 1-5 (line 1 is blank)

std::string withTarget(std::string_view rest) {
  return std::string(kTarget) + std::string(rest);
}

TEST_F(ConfigTest, FullConfigRoundTripsIntoStructs) {
  write("secrets/orders.whsec",
        "\n  " + std::string(kOrdersSecret) + "  \n\n" + std::string(kOrdersSecret2) + "\n");
  write("secrets/orders.whsk", std::string(kSigningKey) + "\n");
  write("secrets/audit.whsec", std::string(kOrdersSecret2) + "\n");
  write("admin.token", "admin-token-one-0123\n");
  write("yoomoney.pass", "s<kY23653f,{9fcnshwq\n");
  write("rbs.token", "ooc7slpvc61k7sf7ma7p4hrefr\n");
  write("integra.token", "integra-url-token\n");
  write("integra.key", "crypt-key\n");
  write("integra-crypt", "#!/bin/sh\ncat\n");
  fs::permissions(dir_ / "integra-crypt", fs::perms::owner_all);
  write("pip.secret", "secret_key\n");
  write("allpay.pem", kPem);
  write("hooks.whsec", std::string(kOrdersSecret2) + "\n");
  write("hooks.whpk", std::string(kPublicKey) + "\n");
  const std::string toml = R"([server]
listen = ["127.0.0.1:8080", "[::1]:8081", "unix:/run/payhook/http.sock"]
max_body = "1MiB"
max_header_bytes = 8192
max_headers = 50
header_timeout = "5s"
idle_timeout = "2m"
max_connections = 500
trusted_proxies = ["127.0.0.1/32", "10.0.0.0/8", "::1"]
shutdown_timeout = "30s"

[admin]
listen = "unix:/run/payhook/admin.sock"
token_file = "admin.token"

[redis]
url = "unix:/run/redis/redis.sock"
prefix = "shop1"
store_timeout = "1500ms"

[log]
format = "text"
level = "debug"

[delivery]
lease_timeout = "2m"
sweep_interval = "10s"

[[targets]]
name = "orders"
url = "https://orders.internal/payhook"
secret_file = "secrets/orders.whsec"
signing_key_file = "secrets/orders.whsk"
timeout = "30s"
max_in_flight = 16
breaker_failures = 0
breaker_cooldown = "2m"
headers = { "X-Internal-Auth" = "Bearer abc", "X-Team" = "payments" }

[[targets]]
name = "audit"
url = "http://127.0.0.1:9001/audit"
secret_file = "secrets/audit.whsec"

[[routes]]
name = "shop-yoomoney"
provider = "yoomoney"
path = "/yoomoney"
shop_id = 13
shop_password_file = "yoomoney.pass"
decision = "orders"
decision_timeout = "3s"
forward = ["orders", "audit"]
allow_ips = ["77.75.152.0/22", "2a02:5180::/32"]
retry = { schedule = ["5s", "5m", "1h30m"], jitter = 0.2, max_age = "7d" }
idempotency_ttl = "14d"

[[routes]]
name = "bank"
provider = "rbs"
path = "/rbs"
checksum = "hmac-sha256"
secret_file = "rbs.token"
forward = ["orders"]

[[routes]]
name = "integra"
provider = "integra"
path = "/integra"
url_token_file = "integra.token"
id_param = "tid"
known_users = ["u1", "u2"]
api_base = "https://api.integra.example/v1"
crypt_command = ["integra-crypt", "--mode", "simple"]
crypt_timeout = "3s"
crypt_key_file = "integra.key"
decline_code = 9
decline_message = "refused"
decision = "orders"

[[routes]]
name = "pip"
provider = "payinpayout"
path = "/payinpayout"
secret_file = "pip.secret"
timestamp_tolerance = "5m"
forward = ["orders"]

[[routes]]
name = "allpay"
provider = "allpay"
path = "/allpay"
public_key_file = "allpay.pem"
answer = "v2"
status_form = "digit"
forward = ["orders"]

[[routes]]
name = "github"
provider = "standard-webhooks"
path = "/hooks/github"
secret_file = "hooks.whsec"
public_key_file = "hooks.whpk"
forward = ["audit"]
retry = { backoff = "exponential", initial = "10s", multiplier = 3, max_interval = "1h", max_attempts = 12, max_age = "2d", jitter = 0 }
)";
  const LoadResult result = load(toml);
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_THAT(result.warnings, IsEmpty());
  ASSERT_TRUE(result.config.has_value());
  const Config& c = *result.config;

  EXPECT_EQ(c.file, file());
  EXPECT_EQ(c.dir, dir_.string());
  EXPECT_THAT(c.server.listen, ElementsAre("127.0.0.1:8080", "[::1]:8081", "unix:/run/payhook/http.sock"));
  EXPECT_EQ(c.server.max_body, 1u << 20);
  EXPECT_EQ(c.server.max_header_bytes, 8192u);
  EXPECT_EQ(c.server.max_headers, 50u);
  EXPECT_EQ(c.server.header_timeout_ms, 5'000u);
  EXPECT_EQ(c.server.idle_timeout_ms, 120'000u);
  EXPECT_EQ(c.server.max_connections, 500u);
  EXPECT_THAT(c.server.trusted_proxies, ElementsAre("127.0.0.1/32", "10.0.0.0/8", "::1"));
  EXPECT_EQ(c.server.shutdown_timeout_ms, 30'000u);
  EXPECT_EQ(c.admin.listen, "unix:/run/payhook/admin.sock");
  EXPECT_EQ(c.admin.token.reveal(), "admin-token-one-0123");
  EXPECT_EQ(c.redis.url, "unix:/run/redis/redis.sock");
  EXPECT_EQ(c.redis.prefix, "shop1");
  EXPECT_EQ(c.redis.store_timeout_ms, 1'500u);
  EXPECT_EQ(c.log.format, "text");
  EXPECT_EQ(c.log.level, "debug");
  EXPECT_EQ(c.delivery.lease_timeout_ms, 120'000u);
  EXPECT_EQ(c.delivery.sweep_interval_ms, 10'000u);

  ASSERT_EQ(c.targets.size(), 2u);
  const TargetConfig& orders = c.targets[0];
  EXPECT_EQ(orders.loc.file, file());
  EXPECT_EQ(orders.loc.line, 29);
  EXPECT_EQ(orders.name, "orders");
  EXPECT_EQ(orders.url, "https://orders.internal/payhook");
  ASSERT_EQ(orders.secrets.size(), 2u);  // blank lines and surrounding spaces dropped
  EXPECT_EQ(orders.secrets[0].reveal(), kOrdersSecret);
  EXPECT_EQ(orders.secrets[1].reveal(), kOrdersSecret2);
  EXPECT_EQ(orders.signing_key.reveal(), kSigningKey);
  EXPECT_EQ(orders.timeout_ms, 30'000u);
  EXPECT_EQ(orders.max_in_flight, 16u);
  EXPECT_EQ(orders.breaker_failures, 0u);
  EXPECT_EQ(orders.breaker_cooldown_ms, 120'000u);
  EXPECT_THAT(orders.headers,
              ElementsAre(std::pair<std::string, std::string>("X-Internal-Auth", "Bearer abc"),
                          std::pair<std::string, std::string>("X-Team", "payments")));
  const TargetConfig& audit = c.targets[1];
  EXPECT_EQ(audit.timeout_ms, 10'000u);
  EXPECT_EQ(audit.max_in_flight, 64u);
  EXPECT_EQ(audit.breaker_failures, 5u);
  EXPECT_EQ(audit.breaker_cooldown_ms, 30'000u);
  EXPECT_TRUE(audit.signing_key.empty());

  ASSERT_EQ(c.routes.size(), 6u);
  const RouteConfig& ym = c.routes[0];
  EXPECT_EQ(ym.loc.line, 45);
  EXPECT_EQ(ym.name, "shop-yoomoney");
  EXPECT_EQ(ym.provider, "yoomoney");
  EXPECT_EQ(ym.path, "/yoomoney");
  EXPECT_EQ(settingsOf<handlers::yoomoney::Settings>(ym).shop_id, "13");
  EXPECT_EQ(settingsOf<handlers::yoomoney::Settings>(ym).shop_password.reveal(), "s<kY23653f,{9fcnshwq");
  EXPECT_EQ(ym.decision, "orders");
  EXPECT_EQ(ym.decision_timeout_ms, 3'000u);
  EXPECT_THAT(ym.forward, ElementsAre("orders", "audit"));
  EXPECT_THAT(ym.allow_ips, ElementsAre("77.75.152.0/22", "2a02:5180::/32"));
  EXPECT_FALSE(ym.retry.exponential);
  EXPECT_THAT(ym.retry.schedule_ms, ElementsAre(5'000u, 300'000u, 5'400'000u));
  EXPECT_DOUBLE_EQ(ym.retry.jitter, 0.2);
  EXPECT_EQ(ym.retry.max_age_ms, 7u * 86'400'000u);
  EXPECT_EQ(ym.idempotency_ttl_s, 14u * 86'400u);
  EXPECT_EQ(ym.key_lines.at("name"), 46);
  EXPECT_EQ(ym.key_lines.at("shop_password_file"), 50);
  EXPECT_EQ(ym.key_lines.at("retry"), 55);
  EXPECT_FALSE(ym.key_lines.contains("secret_file"));

  const RouteConfig& rbs = c.routes[1];
  EXPECT_EQ(settingsOf<handlers::rbs::Settings>(rbs).checksum, "hmac-sha256");
  EXPECT_EQ(settingsOf<handlers::rbs::Settings>(rbs).rsa_hash, "sha512");
  ASSERT_EQ(secretOf(rbs).size(), 1u);
  EXPECT_EQ(secretOf(rbs)[0].reveal(), "ooc7slpvc61k7sf7ma7p4hrefr");
  // Routes without their own retry table get the default schedule.
  EXPECT_EQ(rbs.retry.schedule_ms, RetryPolicy{}.schedule_ms);

  const RouteConfig& integra = c.routes[2];
  EXPECT_EQ(settingsOf<handlers::integra::Settings>(integra).url_token.reveal(), "integra-url-token");
  EXPECT_THAT(settingsOf<handlers::integra::Settings>(integra).crypt_command,
              ElementsAre((dir_ / "integra-crypt").string(), "--mode", "simple"));
  EXPECT_EQ(settingsOf<handlers::integra::Settings>(integra).crypt_timeout_ms, 3'000u);
  EXPECT_EQ(settingsOf<handlers::integra::Settings>(integra).crypt_key_file, (dir_ / "integra.key").string());
  EXPECT_EQ(settingsOf<handlers::integra::Settings>(integra).crypt, "");
  EXPECT_EQ(settingsOf<handlers::integra::Settings>(integra).decline_code, 9);
  EXPECT_EQ(settingsOf<handlers::integra::Settings>(integra).decline_message, "refused");
  EXPECT_EQ(settingsOf<handlers::integra::Settings>(integra).id_param, "tid");
  EXPECT_EQ(settingsOf<handlers::integra::Settings>(integra).amount_param, "amount");
  EXPECT_EQ(settingsOf<handlers::integra::Settings>(integra).user_param, "user");
  EXPECT_THAT(settingsOf<handlers::integra::Settings>(integra).known_users, ElementsAre("u1", "u2"));
  EXPECT_EQ(settingsOf<handlers::integra::Settings>(integra).api_base, "https://api.integra.example/v1");
  EXPECT_TRUE(integra.forward.empty());

  const RouteConfig& pip = c.routes[3];
  ASSERT_EQ(secretOf(pip).size(), 1u);
  EXPECT_EQ(secretOf(pip)[0].reveal(), "secret_key");
  EXPECT_EQ(settingsOf<handlers::payinpayout::Settings>(pip).timestamp_tolerance_ms, 300'000u);

  const RouteConfig& allpay = c.routes[4];
  EXPECT_EQ(publicKeyOf(allpay), kPem);
  EXPECT_EQ(settingsOf<handlers::allpay::Settings>(allpay).answer, "v2");
  EXPECT_EQ(settingsOf<handlers::allpay::Settings>(allpay).status_form, "digit");

  const RouteConfig& hooks = c.routes[5];
  ASSERT_EQ(secretOf(hooks).size(), 1u);
  EXPECT_EQ(secretOf(hooks)[0].reveal(), kOrdersSecret2);
  EXPECT_EQ(publicKeyOf(hooks), std::string(kPublicKey) + "\n");
  EXPECT_TRUE(hooks.retry.exponential);
  EXPECT_TRUE(hooks.retry.schedule_ms.empty());
  EXPECT_EQ(hooks.retry.initial_ms, 10'000u);
  EXPECT_DOUBLE_EQ(hooks.retry.multiplier, 3.0);
  EXPECT_EQ(hooks.retry.max_interval_ms, 3'600'000u);
  EXPECT_EQ(hooks.retry.max_attempts, 12u);
  EXPECT_EQ(hooks.retry.max_age_ms, 2u * 86'400'000u);
  EXPECT_DOUBLE_EQ(hooks.retry.jitter, 0.0);
}

TEST_F(ConfigTest, DefaultsApplyWhenSectionsAreAbsent) {
  write("hooks.whsec", std::string(kOrdersSecret2));
  const LoadResult result = load(withTarget(R"(
[[routes]]
name = "hooks"
provider = "standard-webhooks"
path = "/hooks/x"
secret_file = "hooks.whsec"
forward = ["orders"]
)"));
  ASSERT_THAT(result.errors, IsEmpty());
  const Config& c = *result.config;
  EXPECT_THAT(c.server.listen, ElementsAre("127.0.0.1:8080"));
  EXPECT_EQ(c.server.max_body, 64u * 1024);
  EXPECT_EQ(c.admin.listen, "127.0.0.1:9464");
  EXPECT_TRUE(c.admin.token.empty());
  EXPECT_EQ(c.redis.url, "redis://127.0.0.1:6379/0");
  EXPECT_EQ(c.delivery.lease_timeout_ms, 60'000u);
  EXPECT_EQ(c.routes[0].retry.schedule_ms, RetryPolicy{}.schedule_ms);
  EXPECT_EQ(c.routes[0].idempotency_ttl_s, 30u * 86'400u);
  // A secret file without a trailing newline is read whole.
  EXPECT_EQ(secretOf(c.routes[0])[0].reveal(), kOrdersSecret2);
}

// The example as an operator installs it: its secrets copied with mode 0600 (a checkout's modes follow the
// umask, and a world-readable secret is rightly warned about).
TEST_F(ConfigTest, ExampleLoadsWithNoErrorsAndNoWarnings) {
  const fs::path source = fs::path(PAYHOOK_SOURCE_DIR) / "config";
  fs::copy_file(source / "payhook.example.toml", dir_ / "payhook.example.toml");
  for (const auto& entry : fs::directory_iterator(source / "secrets")) {
    fs::create_directories(dir_ / "secrets");
    fs::copy_file(entry.path(), dir_ / "secrets" / entry.path().filename());
    fs::permissions(dir_ / "secrets" / entry.path().filename(),
                    fs::perms::owner_read | fs::perms::owner_write);
  }
  const std::string path = (dir_ / "payhook.example.toml").string();
  const LoadResult result = loadConfigFile(path, {}, handlers::providerCatalog());
  EXPECT_THAT(result.errors, IsEmpty());
  EXPECT_THAT(result.warnings, IsEmpty());
  ASSERT_TRUE(result.config.has_value());
  const Config& c = *result.config;
  EXPECT_THAT(c.server.listen, ElementsAre("127.0.0.1:8080"));
  EXPECT_EQ(c.admin.listen, "127.0.0.1:9464");
  EXPECT_FALSE(c.admin.token.empty());
  EXPECT_EQ(c.redis.url, "redis://127.0.0.1:6390/0");
  ASSERT_EQ(c.targets.size(), 1u);
  EXPECT_EQ(c.targets[0].name, "orders");
  EXPECT_EQ(c.targets[0].url, "http://127.0.0.1:9000/payhook");
  ASSERT_EQ(c.targets[0].secrets.size(), 1u);
  // One route per provider.
  ASSERT_EQ(c.routes.size(), 10u);
  std::vector<std::string> providers;
  for (const auto& r : c.routes) providers.push_back(r.provider);
  EXPECT_THAT(providers, ElementsAre("standard-webhooks", "yoomoney", "rbs", "integra", "payinpayout",
                                     "allpay", "cloudpayments", "robokassa", "tbank", "yookassa"));
  EXPECT_EQ(c.routes[0].name, "demo");
  EXPECT_EQ(c.routes[0].provider, "standard-webhooks");
  EXPECT_EQ(c.routes[0].path, "/hooks/demo");
  ASSERT_EQ(secretOf(c.routes[0]).size(), 1u);
  EXPECT_EQ(secretOf(c.routes[0])[0].reveal(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  EXPECT_THAT(c.routes[0].forward, ElementsAre("orders"));
}

TEST_F(ConfigTest, MissingFileIsOneError) {
  const LoadResult result = loadConfigFile((dir_ / "nope.toml").string(), {}, handlers::providerCatalog());
  EXPECT_THAT(result.errors,
              ElementsAre((dir_ / "nope.toml").string() + ": cannot read: No such file or directory"));
  EXPECT_FALSE(result.config.has_value());
}

TEST_F(ConfigTest, DirectoryAsConfigIsOneError) {
  const LoadResult result = loadConfigFile(dir_.string(), {}, handlers::providerCatalog());
  EXPECT_THAT(result.errors, ElementsAre(dir_.string() + ": cannot read: is a directory"));
}

TEST_F(ConfigTest, StandardWebhooksPublicKeyLines) {
  write("ok.whpk", "# sender key, rotated 2026-01\n" + std::string(kPublicKey) + "\n\n");
  write("bad.whpk", std::string(kPublicKey) + "\nwhpk_c2hvcnQ=\n");
  write("notes.whpk", "# nothing yet\n");
  const LoadResult result = load(withTarget(R"(
[[routes]]
name = "ok"
provider = "standard-webhooks"
path = "/ok"
public_key_file = "ok.whpk"
forward = ["orders"]

[[routes]]
name = "bad"
provider = "standard-webhooks"
path = "/bad"
public_key_file = "bad.whpk"
forward = ["orders"]

[[routes]]
name = "notes"
provider = "standard-webhooks"
path = "/notes"
public_key_file = "notes.whpk"
forward = ["orders"]
)"));
  EXPECT_THAT(result.errors,
              ElementsAre(at(18, "routes[1].public_key_file: line 2 of " + (dir_ / "bad.whpk").string() +
                                     " is not whpk_<base64 of a 32-byte ed25519 public key>"),
                          at(25, "routes[2].public_key_file: " + (dir_ / "notes.whpk").string() +
                                     " holds no key (it is empty, blank or only comments)")));
}

TEST_F(ConfigTest, SyntaxErrorIsOneErrorWithItsLine) {
  const LoadResult result = load("[server]\nmax_body = \"64KiB\"\nlisten = = 1\n");
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_THAT(result.errors[0], ::testing::StartsWith(at(3, "")));
  EXPECT_THAT(result.errors[0], HasSubstr("could not determine value type"));
  EXPECT_FALSE(result.config.has_value());
}

TEST_F(ConfigTest, ReportsEveryProblemWithItsLine) {
  const LoadResult result = load(withTarget(R"(
[server]
max_body = "lots"
max_headers = -1
header_timeout = 10

[log]
level = "verbose"

[[routes]]
name = "a"
provider = "yoomoney"
path = "yoomoney"
forward = ["orders"]
decision = "orders"
)"));
  EXPECT_THAT(
      result.errors,
      ElementsAre(at(8,
                     "server.max_body: \"lots\" is not a size; use bytes or a unit: KiB, MiB, GiB (binary) "
                     "or KB, MB, GB (decimal), e.g. \"64KiB\""),
                  at(9, "server.max_headers: must be positive"),
                  at(10,
                     "server.header_timeout: expected a duration string, got the bare number 10; units are "
                     "required (e.g. \"10s\")"),
                  at(13, "log.level: \"verbose\" is not one of \"debug\", \"info\", \"warn\", \"error\""),
                  at(15, "routes[0].shop_id: is required for provider \"yoomoney\""),
                  at(15, "routes[0].shop_password_file: is required for provider \"yoomoney\""),
                  at(18, "routes[0].path: \"yoomoney\" must start with '/'")));
  EXPECT_FALSE(result.config.has_value());
}

TEST_F(ConfigTest, UnknownKeysAndSectionsAreErrors) {
  const LoadResult result = load(withTarget(R"(
[server]
max_bdy = "1MiB"
colour = "blue"

[sever]
listen = "127.0.0.1:1"

[[routes]]
name = "a"
provider = "standard-webhooks"
path = "/a"
secret_file = "orders.whsec"
forward = ["orders"]
retry = { schedule = ["5s"], jiter = 0.5 }
)"));
  EXPECT_THAT(result.errors,
              ElementsAre(at(8, "server.max_bdy: unknown key; did you mean \"max_body\"?"),
                          at(9, "server.colour: unknown key"),
                          at(11, "sever: unknown section; did you mean \"server\"?"),
                          at(20, "routes[0].retry.jiter: unknown key; did you mean \"jitter\"?")));
}

TEST_F(ConfigTest, WrongTypesNameTheExpectedType) {
  const LoadResult result = load(withTarget(R"(
[server]
listen = 8080
max_connections = "many"
trusted_proxies = "127.0.0.1"

[redis]
prefix = 7

[[routes]]
name = "a"
provider = "standard-webhooks"
path = "/a"
secret_file = "orders.whsec"
forward = ["orders", 3]
retry = { schedule = ["5s"], jitter = "lots" }
)"));
  EXPECT_THAT(result.errors,
              ElementsAre(at(8, "server.listen: expected a string or an array of strings, got an integer"),
                          at(9, "server.max_connections: expected an integer, got a string"),
                          at(10, "server.trusted_proxies: expected an array of strings, got a string"),
                          at(13, "redis.prefix: expected a string, got an integer"),
                          at(20, "routes[0].forward[1]: expected a string, got an integer"),
                          at(21, "routes[0].retry.jitter: expected a number, got a string")));
}

TEST_F(ConfigTest, SectionsMustBeTables) {
  const LoadResult result = load("server = \"x\"\n" + withTarget(R"(
[[routes]]
name = "a"
provider = "standard-webhooks"
path = "/a"
secret_file = "orders.whsec"
forward = ["orders"]
)"));
  EXPECT_THAT(result.errors, ElementsAre(at(1, "server: expected a table, got a string")));
}

TEST_F(ConfigTest, BadDurationsAndSizes) {
  const LoadResult result = load(withTarget(R"(
[server]
max_body = "64 KB"
max_header_bytes = "1ZiB"
idle_timeout = "10"
shutdown_timeout = "5 minutes"
header_timeout = "0s"

[redis]
store_timeout = "30m1h"

[[routes]]
name = "a"
provider = "standard-webhooks"
path = "/a"
secret_file = "orders.whsec"
forward = ["orders"]
retry = { schedule = ["5s", 60] }
)"));
  EXPECT_THAT(
      result.errors,
      ElementsAre(
          at(9,
             "server.max_header_bytes: \"1ZiB\" is not a size; use bytes or a unit: KiB, MiB, GiB (binary) "
             "or KB, MB, GB (decimal), e.g. \"64KiB\""),
          at(10,
             "server.idle_timeout: \"10\" has no unit; units are required: ms, s, m, h or d (e.g. \"10s\")"),
          at(11,
             "server.shutdown_timeout: \"5 minutes\" is not a duration; use a number with a unit: ms, s, "
             "m, h or d (e.g. \"250ms\", \"10s\", \"1h30m\")"),
          at(12, "server.header_timeout: must be positive"),
          at(15,
             "redis.store_timeout: \"30m1h\" lists its parts out of order; write the largest unit first "
             "(e.g. \"1h30m\")"),
          at(23,
             "routes[0].retry.schedule[1]: expected a duration string such as \"5m\", got an integer; "
             "units are required")));
}

// The smallest valid config with a [server] section between the target and a route.
std::string withTargetAndRoute(std::string_view server) {
  return withTarget(std::string(server) + R"(
[[routes]]
name = "a"
provider = "standard-webhooks"
path = "/a"
secret_file = "orders.whsec"
forward = ["orders"]
)");
}

TEST_F(ConfigTest, SlowPeerLimitsHaveDefaultsAndAreRead) {
  LoadResult result = load(withTargetAndRoute(""));
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(result.config->server.body_timeout_ms, 30'000u);
  EXPECT_EQ(result.config->server.min_body_rate, 1024u);
  EXPECT_EQ(result.config->server.body_rate_grace_ms, 5'000u);
  EXPECT_EQ(result.config->server.write_timeout_ms, 30'000u);
  EXPECT_EQ(result.config->server.max_connections_per_address, 128u);

  result = load(withTargetAndRoute(R"(
[server]
body_timeout = "10s"
min_body_rate = "4KiB"
body_rate_grace = "2s"
write_timeout = "15s"
max_connections_per_address = 0
)"));
  ASSERT_THAT(result.errors, IsEmpty());
  const ServerConfig& s = result.config->server;
  EXPECT_EQ(s.body_timeout_ms, 10'000u);
  EXPECT_EQ(s.min_body_rate, 4096u);
  EXPECT_EQ(s.body_rate_grace_ms, 2'000u);
  EXPECT_EQ(s.write_timeout_ms, 15'000u);
  EXPECT_EQ(s.max_connections_per_address, 0u);

  // No rate: the grace is free to be as long as it likes.
  result = load(withTargetAndRoute("\n[server]\nbody_timeout = \"2s\"\nmin_body_rate = 0\n"));
  EXPECT_THAT(result.errors, IsEmpty());
}

TEST_F(ConfigTest, SlowPeerLimitMistakesNameTheirLine) {
  LoadResult result = load(withTargetAndRoute(R"(
[server]
body_timeout = "0s"
min_body_rate = "fast"
write_timeout = 30
max_connections_per_address = -1
)"));
  EXPECT_THAT(
      result.errors,
      ElementsAre(at(8, "server.body_timeout: must be positive"),
                  at(9,
                     "server.min_body_rate: \"fast\" is not a size; use bytes or a unit: KiB, MiB, GiB "
                     "(binary) or KB, MB, GB (decimal), e.g. \"64KiB\""),
                  at(10,
                     "server.write_timeout: expected a duration string, got the bare number 30; units "
                     "are required (e.g. \"30s\")"),
                  at(11, "server.max_connections_per_address: must not be negative")));

  // A grace as long as the deadline would leave min_body_rate no time to apply.
  result = load(withTargetAndRoute(R"(
[server]
body_timeout = "5s"
body_rate_grace = "5s"
)"));
  EXPECT_THAT(result.errors,
              ElementsAre(at(9,
                             "server.body_rate_grace: body_rate_grace (5s) must be shorter than body_timeout "
                             "(5s), or min_body_rate never applies; min_body_rate = 0 turns the rate off")));
  result = load(withTargetAndRoute("\n[server]\nbody_timeout = \"3s\"\n"));
  EXPECT_THAT(result.errors, ElementsAre(at(8,
                                            "server.body_timeout: body_rate_grace (5s) must be shorter than "
                                            "body_timeout (3s), or min_body_rate never applies; "
                                            "min_body_rate = 0 turns the rate off")));
}

TEST_F(ConfigTest, MissingRequiredProviderKeysAreReportedAtTheRouteTable) {
  const LoadResult result = load(withTarget(R"(
[[routes]]
name = "a"
provider = "yoomoney"
path = "/y"
forward = ["orders"]

[[routes]]
name = "b"
provider = "allpay"
path = "/allpay"
forward = ["orders"]

[[routes]]
name = "c"
provider = "integra"
path = "/integra"
forward = ["orders"]

[[routes]]
name = "d"
provider = "payinpayout"
path = "/pip"
forward = ["orders"]

[[routes]]
name = "e"
provider = "standard-webhooks"
path = "/e"
forward = ["orders"]
)"));
  EXPECT_THAT(
      result.errors,
      ElementsAre(at(7, "routes[0].shop_id: is required for provider \"yoomoney\""),
                  at(7, "routes[0].shop_password_file: is required for provider \"yoomoney\""),
                  at(7,
                     "routes[0].decision: is required for provider \"yoomoney\": checkOrder asks this "
                     "target before the payment is taken"),
                  at(13,
                     "routes[1].public_key_file: is required for provider \"allpay\" (allpay's PEM public "
                     "key)"),
                  at(19, "routes[2].url_token_file: is required for provider \"integra\""),
                  at(19,
                     "routes[2].decision: is required for provider \"integra\": its answer decides between "
                     "confirmPayment and declinePayment"),
                  at(25, "routes[3].secret_file: is required for provider \"payinpayout\""),
                  at(31,
                     "routes[4].secret_file: is required for provider \"standard-webhooks\" (or "
                     "public_key_file for v1a signatures)")));
}

TEST_F(ConfigTest, RobokassaAndTBankRoutesLoadTheirKeys) {
  write("secrets/robokassa.pass2", "test_password2\n");
  write("secrets/tbank.pass", "Dfsfh56dgKl\n");
  const LoadResult result = load(withTarget(R"(
[[routes]]
name = "robo"
provider = "robokassa"
path = "/robokassa"
password2_file = "secrets/robokassa.pass2"
hash = "ripemd160"
currency = "kzt"
forward = ["orders"]

[[routes]]
name = "tb"
provider = "tbank"
path = "/tbank"
terminal_key = "1321054611234DEMO"
password_file = "secrets/tbank.pass"
forward = ["orders"]
)"));
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_THAT(result.warnings, IsEmpty());
  const Config& c = *result.config;
  const auto& robo = settingsOf<handlers::robokassa::Settings>(c.routes[0]);
  EXPECT_EQ(robo.password2.reveal(), "test_password2");
  EXPECT_EQ(robo.hash, handlers::HashAlgorithm::kRipemd160);
  EXPECT_EQ(robo.currency, "KZT");
  const auto& tb = settingsOf<handlers::tbank::Settings>(c.routes[1]);
  EXPECT_EQ(tb.terminal_key, "1321054611234DEMO");
  EXPECT_EQ(tb.password.reveal(), "Dfsfh56dgKl");
}

TEST_F(ConfigTest, RobokassaAndTBankErrorsNameFileLineAndKey) {
  const LoadResult result = load(withTarget(R"(
[[routes]]
name = "robo"
provider = "robokassa"
path = "/robokassa"
password2_file = "secrets/missing.pass2"
hash = "gost"
forward = ["orders"]

[[routes]]
name = "robo-bare"
provider = "robokassa"
path = "/robo-bare"
currency = "rubles"
forward = ["orders"]

[[routes]]
name = "tb"
provider = "tbank"
path = "/tbank"
password_file = "secrets/missing.tbank"
forward = ["orders"]

[[routes]]
name = "tb-bare"
provider = "tbank"
path = "/tb-bare"
terminal_key = ""
forward = ["orders"]
)"));
  EXPECT_THAT(result.errors, Contains(at(11, "routes[0].password2_file: cannot read " +
                                                 (dir_ / "secrets/missing.pass2").string() +
                                                 ": No such file or directory")));
  EXPECT_THAT(result.errors, Contains(HasSubstr(at(12, "routes[0].hash: \"gost\" is not one of"))));
  EXPECT_THAT(result.errors,
              Contains(at(15,
                          "routes[1].password2_file: is required for provider \"robokassa\" (the shop's "
                          "Password #2)")));
  EXPECT_THAT(result.errors,
              Contains(HasSubstr(at(15, "routes[1].hash: is required for provider \"robokassa\""))));
  EXPECT_THAT(
      result.errors,
      Contains(at(19, "routes[1].currency: \"rubles\" is not an ISO 4217 letter code such as \"RUB\"")));
  EXPECT_THAT(result.errors, Contains(at(26, "routes[2].password_file: cannot read " +
                                                 (dir_ / "secrets/missing.tbank").string() +
                                                 ": No such file or directory")));
  EXPECT_THAT(result.errors,
              Contains(at(22,
                          "routes[2].terminal_key: is required for provider \"tbank\" (the terminal's "
                          "TerminalKey)")));
  EXPECT_THAT(result.errors, Contains(HasSubstr("routes[3].terminal_key: ")));
  EXPECT_THAT(result.errors,
              Contains(at(29,
                          "routes[3].password_file: is required for provider \"tbank\" (the terminal's "
                          "password)")));
  EXPECT_EQ(result.errors.size(), 9u) << ::testing::PrintToString(result.errors);
}

TEST_F(ConfigTest, YooKassaRouteLoadsItsKeys) {
  write("secrets/yookassa.key", "test_secret_key\n");
  const LoadResult result = load(withTarget(R"(
[[routes]]
name = "yk"
provider = "yookassa"
path = "/yookassa"
shop_id = 506751
secret_key_file = "secrets/yookassa.key"
api_base = "http://127.0.0.1:8081/"
allow_ips = ["127.0.0.1/32"]
forward = ["orders"]
poll_rate = 2
hold_deadline = "3d"
poll_timeout = "4s"

[[routes]]
name = "yk-default"
provider = "yookassa"
path = "/yk-default"
shop_id = "506751"
secret_key_file = "secrets/yookassa.key"
forward = ["orders"]
)"));
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_THAT(result.warnings, IsEmpty());
  const Config& c = *result.config;
  const auto& yk = settingsOf<handlers::yookassa::Settings>(c.routes[0]);
  EXPECT_EQ(yk.shop_id, "506751");
  EXPECT_EQ(yk.secret_key.reveal(), "test_secret_key");
  EXPECT_EQ(yk.api_base, "http://127.0.0.1:8081");
  EXPECT_THAT(c.routes[0].allow_ips, ElementsAre("127.0.0.1/32"));
  EXPECT_EQ(yk.poll.rate, 2u);
  EXPECT_EQ(yk.poll.hold_deadline_ms, 3u * 86'400'000);
  EXPECT_EQ(yk.poll.timeout_ms, 4'000u);
  EXPECT_EQ(settingsOf<handlers::yookassa::Settings>(c.routes[1]).api_base, "https://api.yookassa.ru");
  EXPECT_EQ(settingsOf<handlers::yookassa::Settings>(c.routes[1]).poll.rate, 5u);
  // Left out, allow_ips stays empty here: the handler's default (YooKassa's networks) applies.
  EXPECT_THAT(c.routes[1].allow_ips, IsEmpty());
}

TEST_F(ConfigTest, YooKassaErrorsNameFileLineAndKey) {
  const LoadResult result = load(withTarget(R"(
[[routes]]
name = "yk"
provider = "yookassa"
path = "/yookassa"
shop_id = "a:b"
secret_key_file = "secrets/missing.key"
api_base = "ftp://api.yookassa.ru"
decision = "orders"
forward = ["orders"]

[[routes]]
name = "yk-bare"
provider = "yookassa"
path = "/yk-bare"
forward = ["orders"]
)"));
  EXPECT_THAT(result.errors, Contains(at(11, "routes[0].shop_id: must not contain ':'")));
  EXPECT_THAT(result.errors,
              Contains(at(12, "routes[0].secret_key_file: cannot read " +
                                  (dir_ / "secrets/missing.key").string() + ": No such file or directory")));
  EXPECT_THAT(
      result.errors,
      Contains(at(13, "routes[0].api_base: \"ftp://api.yookassa.ru\" must start with http:// or https://")));
  EXPECT_THAT(result.errors,
              Contains(HasSubstr(at(14, "routes[0].decision: provider \"yookassa\" has no decision"))));
  EXPECT_THAT(result.errors,
              Contains(HasSubstr(at(17, "routes[1].shop_id: is required for provider \"yookassa\""))));
  EXPECT_THAT(
      result.errors,
      Contains(HasSubstr(at(17, "routes[1].secret_key_file: is required for provider \"yookassa\""))));
  EXPECT_EQ(result.errors.size(), 6u) << ::testing::PrintToString(result.errors);
}

TEST_F(ConfigTest, ProviderKeyOnAnotherProviderIsAnError) {
  write("rbs.token", "token\n");
  const LoadResult result = load(withTarget(R"(
[[routes]]
name = "a"
provider = "rbs"
path = "/rbs"
checksum = "hmac-sha256"
secret_file = "rbs.token"
shop_id = "13"
answer = "v2"
forward = ["orders"]
)"));
  EXPECT_THAT(
      result.errors,
      ElementsAre(
          at(13, "routes[0].shop_id: not a key for provider \"rbs\"; it belongs to yoomoney, yookassa"),
          at(14, "routes[0].answer: not a key for provider \"rbs\"; it belongs to allpay")));
}

TEST_F(ConfigTest, UnknownProviderListsTheValidOnes) {
  const LoadResult result = load(withTarget(R"(
[[routes]]
name = "a"
provider = "stripe"
path = "/stripe"
secret_file = "orders.whsec"
forward = ["orders"]
)"));
  EXPECT_THAT(
      result.errors,
      ElementsAre(at(9,
                     "routes[0].provider: \"stripe\" is not a known provider; expected one of yoomoney, "
                     "rbs, integra, payinpayout, allpay, standard-webhooks, cloudpayments, robokassa, tbank, "
                     "yookassa")));
}

TEST_F(ConfigTest, RbsChecksumRules) {
  write("rbs.token", "token\n");
  write("bank.pem", kPem);
  write("not-a-key.pem", "hello\n");
  const LoadResult result = load(withTarget(R"(
[[routes]]
name = "hmac"
provider = "rbs"
path = "/rbs1"
checksum = "hmac-sha256"
public_key_file = "bank.pem"
forward = ["orders"]

[[routes]]
name = "rsa"
provider = "rbs"
path = "/rbs2"
checksum = "rsa"
rsa_hash = "md5"
forward = ["orders"]

[[routes]]
name = "none"
provider = "rbs"
path = "/rbs3"
checksum = "none"
secret_file = "rbs.token"
forward = ["orders"]

[[routes]]
name = "bad-key"
provider = "rbs"
path = "/rbs4"
checksum = "rsa"
public_key_file = "not-a-key.pem"
forward = ["orders"]

[[routes]]
name = "missing"
provider = "rbs"
path = "/rbs5"
forward = ["orders"]
)"));
  EXPECT_THAT(
      result.errors,
      ElementsAre(at(7, "routes[0].secret_file: is required with checksum = \"hmac-sha256\""),
                  at(12, "routes[0].public_key_file: is only used with checksum = \"rsa\""),
                  at(15, "routes[1].public_key_file: is required with checksum = \"rsa\""),
                  at(20, "routes[1].rsa_hash: \"md5\" is not one of \"sha512\", \"sha256\""),
                  at(23, "routes[2].allow_ips: must list the bank's addresses when checksum = \"none\""),
                  at(28, "routes[2].secret_file: is only used with checksum = \"hmac-sha256\""),
                  at(36, "routes[3].public_key_file: " + (dir_ / "not-a-key.pem").string() +
                             " does not hold a PEM public key or certificate (\"-----BEGIN ...\")"),
                  at(39, "routes[4].checksum: is required: \"hmac-sha256\", \"rsa\" or \"none\"")));
}

TEST_F(ConfigTest, RbsWithoutChecksumWarnsButLoads) {
  const LoadResult result = load(withTarget(R"(
[[routes]]
name = "none"
provider = "rbs"
path = "/rbs"
checksum = "none"
allow_ips = ["194.54.14.0/24"]
forward = ["orders"]
)"));
  EXPECT_THAT(result.errors, IsEmpty());
  EXPECT_THAT(
      result.warnings,
      ElementsAre(at(11, "routes[0].checksum: \"none\": callbacks are trusted by source address only")));
  EXPECT_TRUE(result.config.has_value());
}

TEST_F(ConfigTest, RbsOwnParamsAndCurrency) {
  write("rbs.token", "token\n");
  const LoadResult result = load(withTarget(R"(
[[routes]]
name = "plain"
provider = "rbs"
path = "/rbs1"
checksum = "hmac-sha256"
secret_file = "rbs.token"
forward = ["orders"]

[[routes]]
name = "shop"
provider = "rbs"
path = "/rbs2"
checksum = "hmac-sha256"
secret_file = "rbs.token"
own_params = ["shop", "utm source", "x;y"]
currency = "kzt"
forward = ["orders"]
)"));
  ASSERT_THAT(result.errors, IsEmpty());
  ASSERT_TRUE(result.config.has_value());
  const RouteConfig& plain = result.config->routes[0];
  EXPECT_THAT(settingsOf<handlers::rbs::Settings>(plain).own_params, IsEmpty());
  EXPECT_EQ(settingsOf<handlers::rbs::Settings>(plain).currency, "RUB");
  const RouteConfig& shop = result.config->routes[1];
  EXPECT_THAT(settingsOf<handlers::rbs::Settings>(shop).own_params, ElementsAre("shop", "utm source", "x;y"));
  EXPECT_EQ(settingsOf<handlers::rbs::Settings>(shop).currency, "KZT");
}

TEST_F(ConfigTest, RbsOwnParamsAndCurrencyErrorsNameTheKey) {
  write("rbs.token", "token\n");
  const LoadResult result = load(withTarget(R"(
[[routes]]
name = "a"
provider = "rbs"
path = "/rbs1"
checksum = "hmac-sha256"
secret_file = "rbs.token"
own_params = ["shop", "", "shop", "mdOrder", "checksum", "sign_alias", 7]
currency = "RUBL"
forward = ["orders"]

[[routes]]
name = "b"
provider = "rbs"
path = "/rbs2"
checksum = "hmac-sha256"
secret_file = "rbs.token"
own_params = "shop"
currency = 643
forward = ["orders"]

[[routes]]
name = "c"
provider = "rbs"
path = "/rbs3"
checksum = "hmac-sha256"
secret_file = "rbs.token"
currency = "R1B"
forward = ["orders"]

[[routes]]
name = "d"
provider = "yoomoney"
path = "/y"
shop_id = "13"
shop_password_file = "rbs.token"
decision = "orders"
own_params = ["shop"]
currency = "RUB"
)"));
  EXPECT_THAT(
      result.errors,
      ElementsAre(
          at(13, "routes[0].own_params[1]: must not be empty"),
          at(13, "routes[0].own_params[2]: \"shop\" is listed twice"),
          at(13, "routes[0].own_params[3]: \"mdOrder\" is a parameter the bank sends"),
          at(13, "routes[0].own_params[4]: \"checksum\" is a parameter the bank sends"),
          at(13, "routes[0].own_params[5]: \"sign_alias\" is a parameter the bank sends"),
          at(13, "routes[0].own_params[6]: expected a string, got an integer"),
          at(14, "routes[0].currency: \"RUBL\" is not an ISO 4217 letter code such as \"RUB\""),
          at(23, "routes[1].own_params: expected an array of strings, got a string"),
          at(24, "routes[1].currency: expected a string, got an integer"),
          at(33, "routes[2].currency: \"R1B\" is not an ISO 4217 letter code such as \"RUB\""),
          at(43, "routes[3].own_params: not a key for provider \"yoomoney\"; it belongs to rbs"),
          at(44, "routes[3].currency: not a key for provider \"yoomoney\"; it belongs to rbs, robokassa")));
}

// The route's safe refusal for Integra: declinePayment's code and message when the shop's answer is no
// clear decision.
TEST_F(ConfigTest, IntegraDeclineDefaults) {
  write("integra.token", "integra-url-token\n");
  const std::string route = R"(
[[routes]]
name = "i"
provider = "integra"
path = "/integra"
url_token_file = "integra.token"
decision = "orders"
api_base = "https://integra.example/api"
crypt = "base64"
)";
  LoadResult result = load(withTarget(route));
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(settingsOf<handlers::integra::Settings>(result.config->routes[0]).decline_code, 1);
  EXPECT_EQ(settingsOf<handlers::integra::Settings>(result.config->routes[0]).decline_message,
            "declined by the shop");

  result = load(withTarget(route + "decline_code = 77\ndecline_message = \"refused by payhook\"\n"));
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(settingsOf<handlers::integra::Settings>(result.config->routes[0]).decline_code, 77);
  EXPECT_EQ(settingsOf<handlers::integra::Settings>(result.config->routes[0]).decline_message,
            "refused by payhook");
  result = load(withTarget(route + "decline_code = 2147483647\n"));
  EXPECT_THAT(result.errors, IsEmpty());

  struct Bad {
    std::string lines;
    std::string error;
  };
  for (const Bad& bad : {
           Bad{"decline_code = 0", "routes[0].decline_code: must be positive"},
           Bad{"decline_code = -3", "routes[0].decline_code: must be positive"},
           Bad{"decline_code = \"1\"", "routes[0].decline_code: expected an integer, got a string"},
           Bad{"decline_code = 1.5",
               "routes[0].decline_code: expected an integer, got a floating-point number"},
           Bad{"decline_code = 2147483648", "routes[0].decline_code: must be at most 2147483647"},
           Bad{"decline_message = \"\"", "routes[0].decline_message: must not be empty"},
           Bad{"decline_message = 5", "routes[0].decline_message: expected a string, got an integer"},
       }) {
    SCOPED_TRACE(bad.lines);
    result = load(withTarget(route + bad.lines + "\n"));
    EXPECT_THAT(result.errors, ElementsAre(at(15, bad.error)));
  }
  // Another provider's route does not take them.
  result = load(withTarget(R"(
[[routes]]
name = "a"
provider = "standard-webhooks"
path = "/a"
secret_file = "orders.whsec"
forward = ["orders"]
decline_code = 5
)"));
  EXPECT_THAT(result.errors,
              ElementsAre(at(13,
                             "routes[0].decline_code: not a key for provider \"standard-webhooks\"; it "
                             "belongs to integra")));
}

// Integra's `k` cipher is named, never implied: the built-in base64 of the public example, or the partner's
// own encryptor run as a command. A key file is passed to that command only.
TEST_F(ConfigTest, IntegraCipherIsExplicit) {
  write("integra.token", "integra-url-token\n");
  write("integra.key", "crypt-key\n");
  write("empty.key", "");
  write("crypt.sh", "#!/bin/sh\ncat\n");
  fs::permissions(dir_ / "crypt.sh", fs::perms::owner_all);
  write("not-exec.sh", "#!/bin/sh\ncat\n");
  fs::permissions(dir_ / "not-exec.sh", fs::perms::owner_read | fs::perms::owner_write);
  fs::create_directories(dir_ / "adir");
  const std::string route = R"(
[[routes]]
name = "i"
provider = "integra"
path = "/integra"
url_token_file = "integra.token"
decision = "orders"
api_base = "https://integra.example/api"
)";  // [[routes]] is line 7 of withTarget(route); what is appended starts at line 14
  const std::string crypt_sh = (dir_ / "crypt.sh").string();

  LoadResult result = load(withTarget(route + "crypt = \"base64\"\n"));
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_THAT(result.warnings, IsEmpty());  // the daemon warns at start, so --check of the example is clean
  EXPECT_EQ(settingsOf<handlers::integra::Settings>(result.config->routes[0]).crypt, "base64");
  EXPECT_THAT(settingsOf<handlers::integra::Settings>(result.config->routes[0]).crypt_command, IsEmpty());

  // A relative program is found beside the config; the arguments are kept as written.
  result = load(withTarget(route + "crypt_command = [\"crypt.sh\", \"--mode\", \"k 1\"]\n"));
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(settingsOf<handlers::integra::Settings>(result.config->routes[0]).crypt, "");
  EXPECT_THAT(settingsOf<handlers::integra::Settings>(result.config->routes[0]).crypt_command,
              ElementsAre(crypt_sh, "--mode", "k 1"));
  EXPECT_EQ(settingsOf<handlers::integra::Settings>(result.config->routes[0]).crypt_timeout_ms, 5'000u);
  EXPECT_EQ(settingsOf<handlers::integra::Settings>(result.config->routes[0]).crypt_key_file, "");

  result = load(withTarget(route + "crypt_command = [\"" + crypt_sh +
                           "\"]\ncrypt_timeout = \"2s\"\ncrypt_key_file = \"integra.key\"\n"));
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_THAT(settingsOf<handlers::integra::Settings>(result.config->routes[0]).crypt_command,
              ElementsAre(crypt_sh));
  EXPECT_EQ(settingsOf<handlers::integra::Settings>(result.config->routes[0]).crypt_timeout_ms, 2'000u);
  EXPECT_EQ(settingsOf<handlers::integra::Settings>(result.config->routes[0]).crypt_key_file,
            (dir_ / "integra.key").string());

  struct Bad {
    std::string lines;
    std::string error;
    int line = 14;
  };
  for (const Bad& bad : {
           Bad{"",
               "routes[0].crypt: is required with api_base: crypt = \"base64\" (Integra's public example, "
               "not its real encryption) or crypt_command = [\"/path/to/encryptor\", ...]"},
           Bad{"crypt = \"simplecrypt\"",
               "routes[0].crypt: \"simplecrypt\" is not a built-in cipher; the only one is \"base64\" "
               "(Integra's public example): run Integra's real one through crypt_command"},
           Bad{"crypt = 1", "routes[0].crypt: expected a string, got an integer"},
           Bad{"crypt_command = []",
               "routes[0].crypt_command: must name the encryptor, e.g. [\"/usr/local/bin/integra-encrypt\"]"},
           Bad{"crypt_command = \"crypt.sh\"",
               "routes[0].crypt_command: expected an array of strings, got a string"},
           Bad{"crypt_command = [\"missing.sh\"]",
               "routes[0].crypt_command[0]: " + (dir_ / "missing.sh").string() + " does not exist"},
           Bad{"crypt_command = [\"not-exec.sh\"]",
               "routes[0].crypt_command[0]: " + (dir_ / "not-exec.sh").string() +
                   " is not an executable file"},
           Bad{"crypt_command = [\"adir\"]",
               "routes[0].crypt_command[0]: " + (dir_ / "adir").string() + " is not an executable file"},
           Bad{"crypt_command = [\"\"]", "routes[0].crypt_command[0]: must not be empty"},
           Bad{"crypt_command = [\"crypt.sh\", 5]",
               "routes[0].crypt_command[1]: expected a string, got an integer"},
           Bad{"crypt_command = [\"crypt.sh\", \"a\\u0000b\"]",
               "routes[0].crypt_command[1]: must not contain NUL"},
           Bad{"crypt = \"base64\"\ncrypt_timeout = \"2s\"",
               "routes[0].crypt_timeout: is only used with crypt_command", 15},
           Bad{"crypt_command = [\"crypt.sh\"]\ncrypt_timeout = \"0s\"",
               "routes[0].crypt_timeout: must be positive", 15},
           Bad{"crypt_key_file = \"integra.key\"\ncrypt = \"base64\"",
               "routes[0].crypt_key_file: nothing would use it: crypt = \"base64\" takes no key (a key file "
               "is "
               "passed only to crypt_command, as CRYPT_KEY_FILE)"},
           Bad{"crypt_key = \"inline-key\"\ncrypt_command = [\"crypt.sh\"]",
               "routes[0].crypt_key: an inline key reaches nothing: put it in a file and give "
               "crypt_key_file, "
               "which crypt_command receives as CRYPT_KEY_FILE"},
           Bad{"crypt_key_file = \"empty.key\"\ncrypt_command = [\"crypt.sh\"]",
               "routes[0].crypt_key_file: " + (dir_ / "empty.key").string() + " holds no key (it is empty)"},
       }) {
    SCOPED_TRACE(bad.lines);
    result = load(withTarget(route + bad.lines + "\n"));
    EXPECT_THAT(result.errors, ElementsAre(at(bad.lines.empty() ? 7 : bad.line, bad.error)));
    for (const auto& e : result.errors) EXPECT_THAT(e, Not(HasSubstr("inline-key")));
  }
  // Both at once.
  result = load(withTarget(route + "crypt = \"base64\"\ncrypt_command = [\"crypt.sh\"]\n"));
  EXPECT_THAT(result.errors,
              ElementsAre(at(15, "routes[0].crypt_command: give either crypt or crypt_command, not both")));
  // The encryption and the API call share the job's lease: each gets at most half.
  result = load(withTarget(route + "crypt_command = [\"crypt.sh\"]\ncrypt_timeout = \"30s\"\n"));
  EXPECT_THAT(
      result.errors,
      ElementsAre(at(15,
                     "routes[0].crypt_timeout: 30s must be less than half of delivery.lease_timeout (1m): "
                     "the API call needs the other half")));
  result = load("[delivery]\nlease_timeout = \"2m\"\n" +
                withTarget(route + "crypt_command = [\"crypt.sh\"]\ncrypt_timeout = \"30s\"\n"));
  EXPECT_THAT(result.errors, IsEmpty());
}

TEST_F(ConfigTest, UnknownTargetReferences) {
  write("ym.pass", "pw\n");
  const LoadResult result = load(withTarget(R"(
[[routes]]
name = "a"
provider = "yoomoney"
path = "/y"
shop_id = "13"
shop_password_file = "ym.pass"
forward = ["orders", "ordres", "billing", "orders"]
decision = "billing"
)"));
  EXPECT_THAT(
      result.errors,
      ElementsAre(
          at(13, "routes[0].forward[1]: \"ordres\" is not a defined target; did you mean \"orders\"?"),
          at(13, "routes[0].forward[2]: \"billing\" is not a defined target"),
          at(13, "routes[0].forward[3]: \"orders\" is listed twice"),
          at(14, "routes[0].decision: \"billing\" is not a defined target")));
}

TEST_F(ConfigTest, RouteWithoutForwardOrDecisionIsAnError) {
  const LoadResult result = load(withTarget(R"(
[[routes]]
name = "a"
provider = "standard-webhooks"
path = "/a"
secret_file = "orders.whsec"
)"));
  EXPECT_THAT(result.errors,
              ElementsAre(at(7,
                             "routes[0].forward: is required: name the [[targets]] that receive this route's "
                             "events")));
}

TEST_F(ConfigTest, DuplicateNamesAndPaths) {
  const LoadResult result = load(withTarget(R"(
[[targets]]
name = "orders"
url = "http://127.0.0.1:9001/"
secret_file = "orders.whsec"

[[routes]]
name = "a"
provider = "standard-webhooks"
path = "/hooks"
secret_file = "orders.whsec"
forward = ["orders"]

[[routes]]
name = "a"
provider = "standard-webhooks"
path = "/hooks"
secret_file = "orders.whsec"
forward = ["orders"]
)"));
  EXPECT_THAT(result.errors,
              ElementsAre(at(8, "targets[1].name: \"orders\" is already used by targets[0] (line 2)"),
                          at(20, "routes[1].name: \"a\" is already used by routes[0] (line 12)"),
                          at(22, "routes[1].path: \"/hooks\" is already used by routes[0] (line 12)")));
}

TEST_F(ConfigTest, PathShapes) {
  std::string toml = withTarget("");
  const std::vector<std::string> paths{"/", "/a/", "/a?x=1", "hooks", "/a b"};
  for (size_t i = 0; i < paths.size(); ++i) {
    toml += "[[routes]]\nname = \"r" + std::to_string(i) + "\"\nprovider = \"standard-webhooks\"\npath = \"" +
            paths[i] + "\"\nsecret_file = \"orders.whsec\"\nforward = [\"orders\"]\n";
  }
  const LoadResult result = load(toml);
  EXPECT_THAT(
      result.errors,
      ElementsAre(
          at(9, "routes[0].path: \"/\" cannot be a mount point; use a prefix such as \"/hooks/shop\""),
          at(15, "routes[1].path: \"/a/\" must not end with '/'"),
          at(21, "routes[2].path: \"/a?x=1\" must not contain '?'"),
          at(27, "routes[3].path: \"hooks\" must start with '/'"),
          at(33, "routes[4].path: \"/a b\" must not contain spaces or control characters")));
}

TEST_F(ConfigTest, BadCidrsAndListenAddresses) {
  const LoadResult result = load(withTarget(R"(
[server]
listen = ["127.0.0.1:8080", "localhost:8080", "127.0.0.1:70000", "::1:80", "unix:relative.sock", "127.0.0.1:8080"]
trusted_proxies = ["10.0.0.0/33", "10.0.0.0/8", "fe80::/129", "10.0.0.300"]

[admin]
listen = "127.0.0.1"

[[routes]]
name = "a"
provider = "standard-webhooks"
path = "/a"
secret_file = "orders.whsec"
forward = ["orders"]
allow_ips = ["2001:db8::/32", "not-an-ip"]
)"));
  const std::string kNotIp =
      "not an IPv4 or IPv6 address or range (expected e.g. \"10.0.0.0/8\" or \"2001:db8::/32\")";
  EXPECT_THAT(
      result.errors,
      ElementsAre(
          at(8,
             "server.listen[1]: \"localhost:8080\": host must be an IPv4 address or a bracketed IPv6 address "
             "(host "
             "names are not resolved)"),
          at(8,
             "server.listen[2]: \"127.0.0.1:70000\": port \"70000\" must be a number from 1 to 65535, or 0 "
             "for "
             "any"),
          at(8, "server.listen[3]: \"::1:80\": write an IPv6 address in brackets: \"[::1]:8080\""),
          at(8,
             "server.listen[4]: \"unix:relative.sock\": unix socket path must be absolute "
             "(\"unix:/run/...\")"),
          at(8, "server.listen[5]: \"127.0.0.1:8080\" is listed twice"),
          at(9, "server.trusted_proxies[0]: prefix length must be a number from 0 to 32"),
          at(9, "server.trusted_proxies[2]: prefix length must be a number from 0 to 128"),
          at(9, "server.trusted_proxies[3]: " + kNotIp),
          at(12, "admin.listen: \"127.0.0.1\": expected \"host:port\", \"[v6]:port\" or \"unix:/path\""),
          at(20, "routes[0].allow_ips[1]: " + kNotIp)));
}

TEST_F(ConfigTest, LeaseTimeoutMustExceedEveryTargetTimeoutPlusMargin) {
  const LoadResult result = load(R"([delivery]
lease_timeout = "30s"

[[targets]]
name = "slow"
url = "http://127.0.0.1:9000/"
secret_file = "orders.whsec"
timeout = "25s"

[[targets]]
name = "fast"
url = "http://127.0.0.1:9001/"
secret_file = "orders.whsec"
timeout = "20s"

[[routes]]
name = "a"
provider = "standard-webhooks"
path = "/a"
secret_file = "orders.whsec"
forward = ["slow", "fast"]
)");
  EXPECT_THAT(
      result.errors,
      ElementsAre(at(2,
                     "delivery.lease_timeout: 30s must exceed every target's timeout plus a 5s margin; "
                     "targets[0] (\"slow\") has timeout 25s, so lease_timeout must be more than 30s")));
}

TEST_F(ConfigTest, DefaultLeaseTimeoutIsCheckedAgainstTargetTimeouts) {
  const LoadResult result = load(R"([[targets]]
name = "slow"
url = "http://127.0.0.1:9000/"
secret_file = "orders.whsec"
timeout = "1m"

[[routes]]
name = "a"
provider = "standard-webhooks"
path = "/a"
secret_file = "orders.whsec"
forward = ["slow"]
)");
  EXPECT_THAT(
      result.errors,
      ElementsAre(at(5,
                     "delivery.lease_timeout: 1m must exceed every target's timeout plus a 5s margin; "
                     "targets[0] (\"slow\") has timeout 1m, so lease_timeout must be more than 1m5s")));
}

TEST_F(ConfigTest, RetentionIsReadAndDefaultsToThirtyDays) {
  const std::string route = R"(
[[routes]]
name = "a"
provider = "standard-webhooks"
path = "/a"
secret_file = "orders.whsec"
forward = ["orders"]
idempotency_ttl = "20m"
)";
  LoadResult result = load(withTarget(route));
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(result.config->redis.retention_ms, 30ull * 86'400'000);
  result = load("[redis]\nretention = \"30m\"\n" + withTarget(route));
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(result.config->redis.retention_ms, 1'800'000u);
  // Equal to the longest idempotency_ttl is enough: the key expires before its event goes.
  result = load("[redis]\nretention = \"20m\"\n" + withTarget(route));
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(result.config->redis.retention_ms, 1'200'000u);
  result = load("[redis]\nretention = \"500ms\"\n" + withTarget(route));
  EXPECT_THAT(result.errors, Contains(HasSubstr("redis.retention: must be at least 1s")));
}

TEST_F(ConfigTest, RetentionShorterThanAnIdempotencyTtlIsRefusedAtItsLine) {
  const LoadResult result = load("[redis]\nretention = \"7d\"\n" + withTarget(R"(
[[routes]]
name = "short"
provider = "standard-webhooks"
path = "/a"
secret_file = "orders.whsec"
forward = ["orders"]
idempotency_ttl = "7d"

[[routes]]
name = "long"
provider = "standard-webhooks"
path = "/b"
secret_file = "orders.whsec"
forward = ["orders"]
idempotency_ttl = "14d"
)"));
  EXPECT_THAT(result.errors,
              ElementsAre(at(2,
                             "redis.retention: 7d is shorter than routes[1] (\"long\")'s idempotency_ttl of "
                             "14d: an event removed before its idempotency key expires would let the "
                             "provider's repeat be stored and delivered again; raise retention or lower "
                             "idempotency_ttl")));
}

TEST_F(ConfigTest, DefaultRetentionIsCheckedAtTheRoutesIdempotencyTtl) {
  const LoadResult result = load(withTarget(R"(
[[routes]]
name = "a"
provider = "standard-webhooks"
path = "/a"
secret_file = "orders.whsec"
forward = ["orders"]
idempotency_ttl = "60d"
)"));
  EXPECT_THAT(result.errors,
              ElementsAre(at(13,
                             "redis.retention: 30d is shorter than routes[0] (\"a\")'s idempotency_ttl of "
                             "60d: an event removed before its idempotency key expires would let the "
                             "provider's repeat be stored and delivered again; raise retention or lower "
                             "idempotency_ttl")));
}

TEST_F(ConfigTest, TargetRules) {
  write("short.whsec", "whsec_c2hvcnQ=\n");
  write("bad.whsk", "whsk_" + std::string(kOrdersSecret.substr(6)) + "\n");
  const LoadResult result = load(R"([[targets]]
name = "bad name"
url = "ftp://example.org/"
secret_file = "short.whsec"
signing_key_file = "bad.whsk"
max_in_flight = 0
headers = { "Content-Type" = "text/plain", "X-Ok" = "a\r\nb", "Bad Name" = "x", "X-Num" = 1 }

[[targets]]
timeout = "5s"

[[routes]]
name = "a"
provider = "standard-webhooks"
path = "/a"
secret_file = "orders.whsec"
forward = ["orders"]
)");
  EXPECT_THAT(
      result.errors,
      ElementsAre(
          at(2, "targets[0].name: \"bad name\" may contain only letters, digits, '-', '_' and '.'"),
          at(3, "targets[0].url: \"ftp://example.org/\" must start with http:// or https:// and name a host"),
          at(4, "targets[0].secret_file: line 1 of " + (dir_ / "short.whsec").string() +
                    " is not whsec_<base64 of 24 to 64 bytes>"),
          at(6, "targets[0].max_in_flight: must be positive"),
          at(7, "targets[0].headers.Bad Name: is not a valid header name"),
          at(7,
             "targets[0].headers.Content-Type: is set by payhook on every delivery and cannot be replaced"),
          at(7, "targets[0].headers.X-Num: expected a string, got an integer"),
          at(7, "targets[0].headers.X-Ok: value must not contain CR, LF or NUL"),
          at(9, "targets[1].name: is required"), at(9, "targets[1].url: is required"),
          at(9,
             "targets[1].secret_file: is required: apps verify every delivery with it (one whsec_ per "
             "line)"),
          at(17, "routes[0].forward[0]: \"orders\" is not a defined target")));
  // A 32-byte whsk_ key is accepted, a 32-byte key under the whsec_ prefix is not a whsk_ key.
  EXPECT_THAT(result.errors, Not(::testing::Contains(HasSubstr("signing_key_file"))));
}

// A 64-byte whsk_ key is the seed followed by its public key; halves that do not belong together would sign
// nothing any app could verify, so start-up refuses the key and names where it is.
TEST_F(ConfigTest, ASixtyFourByteSigningKeyWithAForeignPublicHalfIsRefused) {
  std::string key(64, '\0');
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<char>(i * 3 + 1);
  char b64[128];
  sodium_bin2base64(b64, sizeof b64, reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  write("mixed.whsk", std::string("whsk_") + b64 + "\n");
  const LoadResult result = load(R"([[targets]]
name = "orders"
url = "http://127.0.0.1:9/"
secret_file = "orders.whsec"
signing_key_file = "mixed.whsk"
)");
  EXPECT_THAT(result.errors, Contains(at(5,
                                         "targets[0].signing_key_file: whsk_ key's second half is not the "
                                         "public key of its first (a 64-byte key is the seed followed "
                                         "by its public key)")));
}

TEST_F(ConfigTest, RetryPolicyRules) {
  const LoadResult result = load(withTarget(R"(
[[routes]]
name = "mixed"
provider = "standard-webhooks"
path = "/a"
secret_file = "orders.whsec"
forward = ["orders"]
retry = { schedule = ["5s"], backoff = "exponential", initial = "1s" }

[[routes]]
name = "empty"
provider = "standard-webhooks"
path = "/b"
secret_file = "orders.whsec"
forward = ["orders"]
retry = { schedule = [] }

[[routes]]
name = "exp"
provider = "standard-webhooks"
path = "/c"
secret_file = "orders.whsec"
forward = ["orders"]
retry = { backoff = "linear", multiplier = 0.5, max_attempts = 0, jitter = 1.5, initial = "1h", max_interval = "1m" }

[[routes]]
name = "no-backoff"
provider = "standard-webhooks"
path = "/d"
secret_file = "orders.whsec"
forward = ["orders"]
retry = { initial = "1s" }
)"));
  EXPECT_THAT(
      result.errors,
      ElementsAre(
          at(13,
             "routes[0].retry.backoff: cannot be combined with schedule; use either schedule or backoff = "
             "\"exponential\""),
          at(13,
             "routes[0].retry.initial: cannot be combined with schedule; use either schedule or backoff = "
             "\"exponential\""),
          at(21, "routes[1].retry.schedule: must list at least one delay, e.g. [\"5s\", \"5m\", \"30m\"]"),
          at(29, "routes[2].retry.backoff: \"linear\" is not one of \"exponential\""),
          at(29, "routes[2].retry.multiplier: must be at least 1"),
          at(29, "routes[2].retry.max_attempts: must be positive"),
          at(29, "routes[2].retry.max_interval: max_interval (1m) is shorter than initial (1h)"),
          at(29, "routes[2].retry.jitter: must be from 0 to 1"),
          at(37, "routes[3].retry.initial: needs backoff = \"exponential\" (or give a schedule instead)")));
}

TEST_F(ConfigTest, RedisUrlIsParsedAsTheStoreWillAndAnInlinePasswordWarns) {
  const std::string route = R"(
[[routes]]
name = "a"
provider = "standard-webhooks"
path = "/a"
secret_file = "orders.whsec"
forward = ["orders"]
)";
  LoadResult bad = load(withTarget("[redis]\nurl = \"redis://127.0.0.1:abc/0\"\n" + route));
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_THAT(bad.errors[0], HasSubstr("redis.url: "));
  bad = load(withTarget("[redis]\nurl = \"redis://:pw-hunter2@127.0.0.1:6379/notadb\"\n" + route));
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_THAT(bad.errors[0], Not(HasSubstr("hunter2")));

  LoadResult inline_pw =
      load(withTarget("[redis]\nurl = \"redis://:pw-hunter2@127.0.0.1:6379/0\"\n" + route));
  ASSERT_THAT(inline_pw.errors, IsEmpty());
  ASSERT_EQ(inline_pw.warnings.size(), 1u);
  EXPECT_THAT(inline_pw.warnings[0], HasSubstr("redis.url: carries the Redis password inline"));
  EXPECT_THAT(inline_pw.warnings[0], Not(HasSubstr("hunter2")));

  write("redis.pass", "from-a-file\n");
  LoadResult from_file = load(
      withTarget("[redis]\nurl = \"redis://127.0.0.1:6379/0\"\npassword_file = \"redis.pass\"\n" + route));
  ASSERT_THAT(from_file.errors, IsEmpty());
  EXPECT_THAT(from_file.warnings, IsEmpty());
  EXPECT_EQ(from_file.config->redis.password.reveal(), "from-a-file");
}

TEST_F(ConfigTest, RedisHighAvailabilityKeys) {
  const std::string route = R"(
[[routes]]
name = "a"
provider = "standard-webhooks"
path = "/a"
secret_file = "orders.whsec"
forward = ["orders"]
)";
  write("sentinel.pass", "sentinel-secret\n");
  LoadResult ok = load(withTarget(
      "[redis]\nurl = \"redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/shop\"\n"
      "sentinel_password_file = \"sentinel.pass\"\nmin_replicas = 1\nreplica_timeout = \"250ms\"\n" +
      route));
  ASSERT_THAT(ok.errors, IsEmpty());
  EXPECT_EQ(ok.config->redis.sentinel_password.reveal(), "sentinel-secret");
  EXPECT_EQ(ok.config->redis.min_replicas, 1u);
  EXPECT_EQ(ok.config->redis.replica_timeout_ms, 250u);

  LoadResult defaults = load(withTarget("[redis]\nurl = \"redis+cluster://127.0.0.1:7000\"\n" + route));
  ASSERT_THAT(defaults.errors, IsEmpty());
  EXPECT_EQ(defaults.config->redis.min_replicas, 0u);
  EXPECT_EQ(defaults.config->redis.replica_timeout_ms, 500u);

  LoadResult bad = load(
      withTarget("[redis]\nurl = \"redis://127.0.0.1:6379/0\"\nsentinel_password_file = \"sentinel.pass\"\n"
                 "min_replicas = 1\nreplica_timeout = \"3s\"\n" +
                 route));
  ASSERT_EQ(bad.errors.size(), 2u) << ::testing::PrintToString(bad.errors);
  EXPECT_THAT(bad.errors[0], HasSubstr("redis.sentinel_password_file: is for a redis+sentinel:// url only"));
  EXPECT_THAT(bad.errors[1],
              HasSubstr("redis.replica_timeout: replica_timeout (3000 ms) must be shorter than "
                        "store_timeout (2000 ms)"));
  for (const auto& e : bad.errors) EXPECT_THAT(e, Not(HasSubstr("sentinel-secret")));
}

TEST_F(ConfigTest, RedisRules) {
  const LoadResult result = load(withTarget(R"(
[redis]
url = "http://user:hunter2@127.0.0.1:6379"
prefix = "{payhook}"
store_timeout = "0ms"

[[routes]]
name = "a"
provider = "standard-webhooks"
path = "/a"
secret_file = "orders.whsec"
forward = ["orders"]
)"));
  EXPECT_THAT(
      result.errors,
      ElementsAre(
          at(8,
             "redis.url: redis URL must start with redis://, unix:, redis+sentinel:// or redis+cluster:// "
             "(e.g. redis://127.0.0.1:6379/0)"),
          at(9, "redis.prefix: must not contain '{' or '}' (payhook adds the {prefix} hash tag itself)"),
          at(10, "redis.store_timeout: must be positive")));
  // The URL may carry a password: it is never echoed.
  for (const std::string& error : result.errors) EXPECT_THAT(error, Not(HasSubstr("hunter2")));
}

TEST_F(ConfigTest, NoRoutesIsAnError) {
  const LoadResult result = load(kTarget);
  EXPECT_THAT(
      result.errors,
      ElementsAre(at(1, "routes: no [[routes]] defined; payhookd would answer every callback with 404")));
}

constexpr std::string_view kSecretContent = "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY";  // 24 bytes

TEST_F(ConfigTest, MissingSecretFileNamesThePath) {
  const LoadResult result = load(withTarget(R"(
[[routes]]
name = "a"
provider = "standard-webhooks"
path = "/a"
secret_file = "secrets/missing.whsec"
forward = ["orders"]
)"));
  EXPECT_THAT(result.errors, ElementsAre(at(11, "routes[0].secret_file: cannot read " +
                                                    (dir_ / "secrets/missing.whsec").string() +
                                                    ": No such file or directory")));
}

TEST_F(ConfigTest, AbsoluteSecretPathIsUsedAsIs) {
  write("elsewhere/abs.whsec", kSecretContent);
  const LoadResult result = load(withTarget(R"(
[[routes]]
name = "a"
provider = "standard-webhooks"
path = "/a"
secret_file = ")" + (dir_ / "elsewhere/abs.whsec").string() +
                                            R"("
forward = ["orders"]
)"));
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(secretOf(result.config->routes[0])[0].reveal(), kSecretContent);
}

TEST_F(ConfigTest, CredentialsDirectoryIsPreferredThenConfigDirectory) {
  write("creds/hooks.whsec", kSecretContent);
  write("hooks.whsec", kOrdersSecret2);
  const std::string toml = withTarget(R"(
[[routes]]
name = "a"
provider = "standard-webhooks"
path = "/a"
secret_file = "hooks.whsec"
forward = ["orders"]
)");
  const Environment env{(dir_ / "creds").string()};
  LoadResult result = load(toml, env);
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(secretOf(result.config->routes[0])[0].reveal(), kSecretContent);
  // orders.whsec is not in the credentials directory: it falls back to the config's directory.
  EXPECT_EQ(result.config->targets[0].secrets[0].reveal(), kOrdersSecret);

  result = load(toml, Environment{});
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(secretOf(result.config->routes[0])[0].reveal(), kOrdersSecret2);

  // Found nowhere: both places are named.
  fs::remove(dir_ / "hooks.whsec");
  fs::remove(dir_ / "creds/hooks.whsec");
  result = load(toml, env);
  EXPECT_THAT(result.errors,
              ElementsAre(at(11, "routes[0].secret_file: cannot read " + (dir_ / "hooks.whsec").string() +
                                     ": No such file or directory (not in the credentials directory " +
                                     (dir_ / "creds").string() + " either)")));
}

TEST_F(ConfigTest, CredentialsAreFoundAsADirectoryLoadCredentialNamesThem) {
  // LoadCredential=secrets:/etc/payhook/secrets loads every file as "secrets_<name>".
  write("creds/secrets_hooks.whsec", kSecretContent);
  const std::string toml = withTarget(R"(
[[routes]]
name = "a"
provider = "standard-webhooks"
path = "/a"
secret_file = "secrets/hooks.whsec"
forward = ["orders"]
)");
  LoadResult result = load(toml, Environment{(dir_ / "creds").string()});
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(secretOf(result.config->routes[0])[0].reveal(), kSecretContent);
}

TEST_F(ConfigTest, CredentialsAreFoundByFileNameAsLoadCredentialNamesThem) {
  // LoadCredential=hooks.whsec:/etc/payhook/secrets/hooks.whsec, with the config naming
  // "secrets/hooks.whsec".
  write("creds/hooks.whsec", kSecretContent);
  const std::string toml = withTarget(R"(
[[routes]]
name = "a"
provider = "standard-webhooks"
path = "/a"
secret_file = "secrets/hooks.whsec"
forward = ["orders"]
)");
  LoadResult result = load(toml, Environment{(dir_ / "creds").string()});
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(secretOf(result.config->routes[0])[0].reveal(), kSecretContent);
}

TEST_F(ConfigTest, NoteLinesInSecretFilesAreSkipped) {
  write("hooks.whsec",
        std::string("# current key, rotated 2026-11\n") + std::string(kSecretContent) + "\n\n# old key\n");
  const LoadResult result = load(withTarget(R"(
[[routes]]
name = "a"
provider = "standard-webhooks"
path = "/a"
secret_file = "hooks.whsec"
forward = ["orders"]
)"));
  ASSERT_THAT(result.errors, IsEmpty());
  ASSERT_EQ(secretOf(result.config->routes[0]).size(), 1u);
  EXPECT_EQ(secretOf(result.config->routes[0])[0].reveal(), kSecretContent);
}

TEST_F(ConfigTest, PasswordsAreTakenExactlyAsWritten) {
  // A shop password may begin with '#' or carry spaces; only the editor's final line break goes.
  write("yoomoney.pass", "#  s<kY2 3653f,{9fcnshwq \r\n");
  const std::string route = R"(
[[routes]]
name = "shop"
provider = "yoomoney"
path = "/yoomoney"
shop_id = "13"
shop_password_file = "yoomoney.pass"
decision = "orders"
forward = ["orders"]
)";
  LoadResult result = load(withTarget(route));
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(settingsOf<handlers::yoomoney::Settings>(result.config->routes[0]).shop_password.reveal(),
            "#  s<kY2 3653f,{9fcnshwq ");

  write("yoomoney.pass", "first\nsecond\n");
  result = load(withTarget(route));
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_THAT(result.errors[0], HasSubstr("routes[0].shop_password_file: "));
  EXPECT_THAT(result.errors[0], HasSubstr("must hold one line"));
  EXPECT_THAT(result.errors[0], Not(HasSubstr("first")));
}

TEST_F(ConfigTest, InlineSecretsWarn) {
  const LoadResult result = load(std::string(R"([admin]
token = "inline-admin-token"

[[targets]]
name = "orders"
url = "http://127.0.0.1:9000/"
secret = ")") + std::string(kSecretContent) +
                                 R"("

[[routes]]
name = "a"
provider = "yoomoney"
path = "/y"
shop_id = "13"
shop_password = "inline-password"
forward = ["orders"]
decision = "orders"
)");
  EXPECT_THAT(result.errors, IsEmpty());
  EXPECT_THAT(result.warnings,
              ElementsAre(at(2, "admin.token: secret given inline; prefer token_file"),
                          at(7, "targets[0].secret: secret given inline; prefer secret_file"),
                          at(14, "routes[0].shop_password: secret given inline; prefer shop_password_file")));
  ASSERT_TRUE(result.config.has_value());
  EXPECT_EQ(result.config->admin.token.reveal(), "inline-admin-token");
  EXPECT_EQ(result.config->targets[0].secrets[0].reveal(), kSecretContent);
  EXPECT_EQ(settingsOf<handlers::yoomoney::Settings>(result.config->routes[0]).shop_password.reveal(),
            "inline-password");
  for (const std::string& warning : result.warnings) {
    EXPECT_THAT(warning, Not(HasSubstr("inline-admin-token")));
    EXPECT_THAT(warning, Not(HasSubstr("inline-password")));
  }
}

TEST_F(ConfigTest, InlineAndFileTogetherIsAnError) {
  write("ym.pass", "pw\n");
  const LoadResult result = load(withTarget(R"(
[[routes]]
name = "a"
provider = "yoomoney"
path = "/y"
shop_id = "13"
shop_password_file = "ym.pass"
shop_password = "inline-password"
forward = ["orders"]
decision = "orders"
)"));
  EXPECT_THAT(result.errors,
              ElementsAre(at(13,
                             "routes[0].shop_password: give either shop_password or shop_password_file, not "
                             "both")));
}

TEST_F(ConfigTest, SecretContentNeverAppearsInMessages) {
  const std::string kBadSecret = "whsec_!!not-base64-TOPSECRET!!";
  write("bad.whsec", kBadSecret + "\n");
  write("blank.whsec", "\n   \n");
  write("ym.pass", "TOPSECRET-PASSWORD\n");
  const LoadResult result = load(std::string(R"([admin]
token = 12345
token_file = "ym.pass"

[[targets]]
name = "orders"
url = "http://127.0.0.1:9000/"
secret_file = "bad.whsec"
headers = { "X-Auth" = "TOPSECRET-HEADER\n" }

[[targets]]
name = "other"
url = "http://127.0.0.1:9001/"
secret_file = "blank.whsec"

[[routes]]
name = "a"
provider = "standard-webhooks"
path = "/a"
secret = "TOPSECRET-INLINE"
forward = ["orders"]
)"));
  EXPECT_THAT(
      result.errors,
      ElementsAre(at(2, "admin.token: give either token or token_file, not both"),
                  at(8, "targets[0].secret_file: line 1 of " + (dir_ / "bad.whsec").string() +
                            " is not whsec_<base64 of 24 to 64 bytes>"),
                  at(9, "targets[0].headers.X-Auth: value must not contain CR, LF or NUL"),
                  at(14, "targets[1].secret_file: " + (dir_ / "blank.whsec").string() +
                             " holds no secret (it is empty, blank or only comments)"),
                  at(20, "routes[0].secret: line 1 of the value is not whsec_<base64 of at least 1 bytes>")));
  for (const auto* list : {&result.errors, &result.warnings}) {
    for (const std::string& message : *list) EXPECT_THAT(message, Not(HasSubstr("TOPSECRET")));
  }
}

TEST_F(ConfigTest, KeyLinesAndLocation) {
  const LoadResult result = load(withTarget(R"(
[[routes]]
name = "a"
provider = "standard-webhooks"

path = "/a"
secret_file = "orders.whsec"
forward = ["orders"]
)"));
  ASSERT_THAT(result.errors, IsEmpty());
  const RouteConfig& route = result.config->routes[0];
  EXPECT_EQ(route.loc.file, file());
  EXPECT_EQ(route.loc.line, 7);
  EXPECT_EQ(route.key_lines,
            (std::map<std::string, int>{
                {"name", 8}, {"provider", 9}, {"path", 11}, {"secret_file", 12}, {"forward", 13}}));
}

TEST(ParseDuration, Table) {
  const std::vector<std::pair<std::string_view, std::optional<uint64_t>>> cases{
      {"250ms", 250},
      {"5s", 5'000},
      {"10m", 600'000},
      {"2h", 7'200'000},
      {"7d", 604'800'000},
      {"1h30m", 5'400'000},
      {"1d12h", 129'600'000},
      {"1m30s500ms", 90'500},
      {"0s", 0},
      {"10", std::nullopt},  // units are required
      {"0", std::nullopt},
      {"", std::nullopt},
      {"s", std::nullopt},
      {"5 s", std::nullopt},
      {"5S", std::nullopt},
      {"1.5h", std::nullopt},
      {"-5s", std::nullopt},
      {"5w", std::nullopt},
      {"30m1h", std::nullopt},  // largest unit first
      {"5m5m", std::nullopt},
      {"1h30", std::nullopt},
      {"99999999999999999999s", std::nullopt},
      {"300000000000d", std::nullopt},  // fits in the number, overflows in milliseconds
  };
  for (const auto& [text, expected] : cases) EXPECT_EQ(parseDuration(text), expected) << text;
}

TEST(ParseSize, Table) {
  const std::vector<std::pair<std::string_view, std::optional<uint64_t>>> cases{
      {"512", 512},
      {"0", 0},
      {"512B", 512},
      {"64KiB", 65'536},
      {"1MiB", 1'048'576},
      {"2GiB", 2'147'483'648},
      {"1GiB", 1'073'741'824},
      {"64KB", 64'000},
      {"64kB", 64'000},
      {"1MB", 1'000'000},
      {"1GB", 1'000'000'000},
      {"64 KiB", 65'536},
      {"", std::nullopt},
      {"KiB", std::nullopt},
      {"64K", std::nullopt},
      {"64kib", std::nullopt},
      {"-1", std::nullopt},
      {"1.5MiB", std::nullopt},
      {"64KiB ", std::nullopt},
      {"18446744073709551615", 18'446'744'073'709'551'615u},
      {"18446744073709551616", std::nullopt},
      {"17179869184GiB", std::nullopt},
  };
  for (const auto& [text, expected] : cases) EXPECT_EQ(parseSize(text), expected) << text;
}

TEST(ParseListenAddress, Forms) {
  auto v4 = parseListenAddress("0.0.0.0:0");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->kind, ListenAddress::Kind::kTcp);
  EXPECT_EQ(v4->host, "0.0.0.0");
  EXPECT_EQ(v4->port, 0);
  EXPECT_FALSE(v4->ipv6);
  auto v6 = parseListenAddress("[::1]:65535");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 65535);
  EXPECT_TRUE(v6->ipv6);
  auto unix_socket = parseListenAddress("unix:/run/payhook/http.sock");
  ASSERT_TRUE(unix_socket.ok());
  EXPECT_EQ(unix_socket->kind, ListenAddress::Kind::kUnix);
  EXPECT_EQ(unix_socket->path, "/run/payhook/http.sock");
  for (std::string_view bad :
       {"127.0.0.1", "127.0.0.1:", "127.0.0.1:-1", "127.0.0.1:65536", "127.0.0.1:+80", ":80", "[::1]80",
        "[::1:80", "[1.2.3.4]:80", "unix:", "unix:x", "example.org:80"}) {
    EXPECT_FALSE(parseListenAddress(bad).ok()) << bad;
  }
  EXPECT_FALSE(parseListenAddress("unix:/" + std::string(200, 'a')).ok());
}

TEST(ParseCidr, FormsAndMatching) {
  for (std::string_view good : {"10.0.0.0/8", "192.0.2.7", "0.0.0.0/0", "2001:db8::/32", "::1", "::/0"}) {
    EXPECT_TRUE(parseCidr(good).ok()) << good;
  }
  for (std::string_view bad :
       {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "10.0.0/8", "::/129", "x", "", "10.0.0.0/8/8"}) {
    EXPECT_FALSE(parseCidr(bad).ok()) << bad;
  }
  // Matching itself is common/cidr's, tested there; the loader and the daemon share it.
  auto net = parseCidr("10.1.0.0/16");
  ASSERT_TRUE(net.ok());
  EXPECT_TRUE(net->contains("10.1.200.3"));
  EXPECT_FALSE(net->contains("10.2.0.1"));
}

}  // namespace
}  // namespace payhook::config

namespace payhook::config {
namespace {

TEST_F(ConfigTest, YooMoneyMaxUnsignedIsASizeWithADefault) {
  write("yoomoney.pass", "s<kY23653f,{9fcnshwq\n");
  auto route = [](const std::string& extra) {
    return withTarget(R"(
[[routes]]
name = "shop"
provider = "yoomoney"
path = "/yoomoney"
shop_id = "13"
shop_password_file = "yoomoney.pass"
decision = "orders"
forward = ["orders"]
)" + extra);
  };
  auto plain = load(route(""));
  ASSERT_THAT(plain.errors, IsEmpty());
  EXPECT_EQ(settingsOf<handlers::yoomoney::Settings>(plain.config->routes[0]).max_unsigned, 8u * 1024);
  auto set = load(route("max_unsigned = \"32KiB\"\n"));
  ASSERT_THAT(set.errors, IsEmpty());
  EXPECT_EQ(settingsOf<handlers::yoomoney::Settings>(set.config->routes[0]).max_unsigned, 32u * 1024);
  auto bad = load(route("max_unsigned = \"lots\"\n"));
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_NE(bad.errors[0].find("routes[0].max_unsigned: \"lots\" is not a size"), std::string::npos)
      << bad.errors[0];
}

}  // namespace
}  // namespace payhook::config

namespace payhook::config {
namespace {

TEST_F(ConfigTest, RbsStatusApiTakesCredentialsFromFiles) {
  write("rbs.token", "ooc7slpvc61k7sf7ma7p4hrefr\n");
  write("rbs-api.pass", "api-password\n");
  auto r = load(withTarget(R"(
[[routes]]
name = "bank"
provider = "rbs"
path = "/rbs"
checksum = "hmac-sha256"
secret_file = "rbs.token"
forward = ["orders"]
api_base = "https://3dsec.sberbank.ru/payment/rest"
api_user = "shop-api"
api_password_file = "rbs-api.pass"
poll_rate = 3
hold_deadline = "2d"
)"));
  ASSERT_THAT(r.errors, IsEmpty());
  const auto& s = *r.config->routes[0].settingsAs<handlers::rbs::Settings>();
  EXPECT_EQ(s.api_base, "https://3dsec.sberbank.ru/payment/rest");
  EXPECT_EQ(s.api_user, "shop-api");
  EXPECT_EQ(s.api_password.reveal(), "api-password");
  EXPECT_EQ(s.poll.rate, 3u);
  EXPECT_EQ(s.poll.hold_deadline_ms, 2u * 86'400'000);
}

TEST_F(ConfigTest, RbsStatusApiMistakesNameFileLineAndKey) {
  write("rbs.token", "ooc7slpvc61k7sf7ma7p4hrefr\n");
  auto r = load(withTarget(R"(
[[routes]]
name = "bank"
provider = "rbs"
path = "/rbs"
checksum = "hmac-sha256"
secret_file = "rbs.token"
forward = ["orders"]
api_base = "ftp://gateway"
poll_rate = 0
)"));
  EXPECT_THAT(r.errors,
              Contains(HasSubstr(at(14, "routes[0].api_base: \"ftp://gateway\" must start with http://"))));
  EXPECT_THAT(r.errors, Contains(HasSubstr(at(15, "routes[0].poll_rate: must be positive"))));
  auto r2 = load(withTarget(R"(
[[routes]]
name = "bank"
provider = "rbs"
path = "/rbs"
checksum = "hmac-sha256"
secret_file = "rbs.token"
forward = ["orders"]
poll_rate = 2
)"));
  EXPECT_THAT(r2.errors, Contains(HasSubstr(at(14, "routes[0].poll_rate: is only used with api_base"))));
  auto r3 = load(withTarget(R"(
[[routes]]
name = "bank"
provider = "rbs"
path = "/rbs"
checksum = "hmac-sha256"
secret_file = "rbs.token"
forward = ["orders"]
api_base = "https://gateway/payment/rest"
)"));
  EXPECT_THAT(r3.errors, Contains(HasSubstr("api_token_file: is required with api_base")));
}

}  // namespace
}  // namespace payhook::config
