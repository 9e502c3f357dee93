// Configs that would run but invite trouble: short tokens, an idempotency TTL shorter than the replay
// window, secret files others can read; and target headers kept in a file of their own.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "config/config.h"
#include "config/headers_file.h"
#include "handlers/registry.h"

namespace payhook::config {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;

constexpr std::string_view kOrdersSecret = "whsec_bc+ivVGMTrYO01zpxlM3PikqN14cihZ90mzZIl9SDB8=";
constexpr std::string_view kDemoSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr auto kPrivate = fs::perms::owner_read | fs::perms::owner_write;

class SafetyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "payhook-safety-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    write("orders.whsec", std::string(kOrdersSecret) + "\n");
    write("demo.whsec", std::string(kDemoSecret) + "\n");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const fs::path& relative, std::string_view content, fs::perms mode = kPrivate) {
    const fs::path path = dir_ / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    fs::permissions(path, mode);
    return path.string();
  }
  std::string file() const { return (dir_ / "payhook.toml").string(); }
  std::string at(int line, std::string_view rest) const {
    return file() + ":" + std::to_string(line) + ": " + std::string(rest);
  }
  LoadResult load(std::string_view toml, const Environment& env = {}) {
    return loadConfigString(toml, file(), env, handlers::providerCatalog());
  }
  // Every message of `result`, for checks that a secret never appears in any.
  static std::string everything(const LoadResult& result) {
    std::string all;
    for (const auto* list : {&result.errors, &result.warnings})
      for (const auto& line : *list) all += line + "\n";
    return all;
  }

  fs::path dir_;
};

// Lines 1-5 (line 1 is blank): keys appended at line 6 belong to the target.
constexpr std::string_view kTarget = R"(
[[targets]]
name = "orders"
url = "http://127.0.0.1:9000/payhook"
secret_file = "orders.whsec"
)";

constexpr std::string_view kDemoRoute = R"(
[[routes]]
name = "demo"
provider = "standard-webhooks"
path = "/hooks/demo"
secret_file = "demo.whsec"
forward = ["orders"]
)";

std::string config(std::string_view target_extra = {}, std::string_view routes = kDemoRoute,
                   std::string_view head = {}) {
  return std::string(head) + std::string(kTarget) + std::string(target_extra) + std::string(routes);
}

TEST_F(SafetyTest, AdminTokenShorterThan16CharactersIsRefused) {
  write("admin.token", "tok-0123456789\n");  // 14 characters
  LoadResult result = load(config({}, kDemoRoute, "[admin]\ntoken_file = \"admin.token\"\n"));
  EXPECT_THAT(result.errors,
              ElementsAre(at(2,
                             "admin.token_file: the token in the file is 14 characters long; it must be at "
                             "least 16 (a random one: openssl rand -hex 24)")));
  EXPECT_THAT(everything(result), Not(HasSubstr("tok-0123456789")));

  result = load(config({}, kDemoRoute, "[admin]\ntoken = \"tok-0123456789\"\n"));
  EXPECT_THAT(result.errors,
              Contains(AllOf(HasSubstr(at(2, "admin.token: the token is 14 characters long")))));
  EXPECT_THAT(everything(result), Not(HasSubstr("tok-0123456789")));

  write("admin.token", "tok-0123456789ab\n");  // 16: enough
  result = load(config({}, kDemoRoute, "[admin]\ntoken_file = \"admin.token\"\n"));
  EXPECT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(result.config->admin.token.reveal(), "tok-0123456789ab");
}

TEST_F(SafetyTest, IntegraUrlTokenShorterThan16CharactersIsRefused) {
  write("integra.token", "url-token\n");
  const std::string route = R"(
[[routes]]
name = "i"
provider = "integra"
path = "/integra"
url_token_file = "integra.token"
decision = "orders"
api_base = "https://integra.example/api"
crypt = "base64"
)";  // url_token_file is line 11
  LoadResult result = load(config({}, route));
  EXPECT_THAT(result.errors,
              ElementsAre(at(11,
                             "routes[0].url_token_file: the token in the file is 9 characters long; it must "
                             "be at least 16 (a random one: openssl rand -hex 24)")));
  EXPECT_THAT(everything(result), Not(HasSubstr("url-token")));

  write("integra.token", "integra-url-token\n");
  result = load(config({}, route));
  EXPECT_THAT(result.errors, IsEmpty());
}

TEST_F(SafetyTest, StandardWebhooksIdempotencyTtlMustCoverTheReplayWindow) {
  // idempotency_ttl is line 13; the timestamp is accepted 5 minutes either way, a 10 minute window.
  LoadResult result = load(config({}, std::string(kDemoRoute) + "idempotency_ttl = \"9m\"\n"));
  EXPECT_THAT(result.errors,
              ElementsAre(at(13,
                             "routes[0].idempotency_ttl: 9m is shorter than the replay window: a callback "
                             "is accepted while its timestamp is within 5m (Standard Webhooks' fixed "
                             "tolerance) of the clock, either way, so a copy replayed up to 10m after the "
                             "first would be stored and delivered again; idempotency_ttl must be at "
                             "least 10m")));
  result = load(config({}, std::string(kDemoRoute) + "idempotency_ttl = \"10m\"\n"));
  EXPECT_THAT(result.errors, IsEmpty());
}

TEST_F(SafetyTest, PayinPayoutIdempotencyTtlMustCoverTwiceTheTimestampTolerance) {
  write("pip.secret", "secret_key\n");
  const std::string route = R"(
[[routes]]
name = "pip"
provider = "payinpayout"
path = "/pip"
secret_file = "pip.secret"
forward = ["orders"]
timestamp_tolerance = "1h"
)";  // timestamp_tolerance is line 13
  LoadResult result = load(config({}, route + "idempotency_ttl = \"90m\"\n"));
  EXPECT_THAT(result.errors,
              ElementsAre(at(14,
                             "routes[0].idempotency_ttl: 1h30m is shorter than the replay window: a "
                             "callback is accepted while its timestamp is within timestamp_tolerance (1h) "
                             "of the clock, either way, so a copy replayed up to 2h after the first would "
                             "be stored and delivered again; idempotency_ttl must be at least 2h")));
  EXPECT_THAT(load(config({}, route + "idempotency_ttl = \"2h\"\n")).errors, IsEmpty());

  // With the default TTL (30 days) a tolerance of more than 15 days is the key at fault.
  const std::string wide = R"(
[[routes]]
name = "pip"
provider = "payinpayout"
path = "/pip"
secret_file = "pip.secret"
forward = ["orders"]
timestamp_tolerance = "20d"
)";
  result = load(config({}, wide));
  EXPECT_THAT(result.errors,
              ElementsAre(AllOf(HasSubstr(at(13,
                                             "routes[0].timestamp_tolerance: is longer than half of "
                                             "idempotency_ttl (30d, the default)")),
                                HasSubstr("raise idempotency_ttl to at least 40d"))));
}

TEST_F(SafetyTest, SecretFileReadableByOthersIsWarnedAboutByPathAndKey) {
  const std::string path =
      write("demo.whsec", std::string(kDemoSecret) + "\n",
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
  LoadResult result = load(config());
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_THAT(result.warnings,
              ElementsAre(at(11, "routes[0].secret_file: " + path +
                                     " is readable by group or others (mode 0644); chmod 600 it, or pass it "
                                     "to payhookd as a systemd credential")));
  EXPECT_THAT(everything(result), Not(HasSubstr(std::string(kDemoSecret))));

  write("demo.whsec", std::string(kDemoSecret) + "\n", fs::perms::owner_read | fs::perms::group_read);
  EXPECT_THAT(load(config()).warnings, ElementsAre(HasSubstr("(mode 0440)")));

  write("demo.whsec", std::string(kDemoSecret) + "\n", kPrivate);
  EXPECT_THAT(load(config()).warnings, IsEmpty());
}

TEST_F(SafetyTest, CredentialsDirectoryIsNotWarnedAbout) {
  // systemd copies credentials in with modes of its own choosing; the operator cannot change them.
  const fs::path creds = dir_ / "creds";
  write("creds/demo.whsec", std::string(kDemoSecret) + "\n", fs::perms::owner_read | fs::perms::others_read);
  LoadResult result = load(config(), Environment{creds.string()});
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_THAT(result.warnings, IsEmpty());
}

TEST_F(SafetyTest, HeadersFileAddsHeadersBesideTheInlineTable) {
  write("app.headers",
        "# the app's gateway wants both\n"
        "\n"
        "Authorization: Bearer s3cr3t-bearer-value\n"
        "  X-Tenant:\tshop-1  \n");
  LoadResult result = load(config("headers = { X-Source = \"payhook\" }\nheaders_file = \"app.headers\"\n"));
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_THAT(result.warnings, IsEmpty());
  EXPECT_THAT(result.config->targets[0].headers,
              ElementsAre(Pair("X-Source", "payhook"), Pair("Authorization", "Bearer s3cr3t-bearer-value"),
                          Pair("X-Tenant", "shop-1")));

  // Alone, without inline headers; and warned about when others can read it.
  const std::string path = write("app.headers", "Authorization: Bearer s3cr3t-bearer-value\n",
                                 fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read);
  result = load(config("headers_file = \"app.headers\"\n"));
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_THAT(
      result.warnings,
      ElementsAre(at(6, "targets[0].headers_file: " + path +
                            " is readable by group or others (mode 0604); chmod 600 it, or pass it to "
                            "payhookd as a systemd credential")));
  EXPECT_THAT(everything(result), Not(HasSubstr("s3cr3t")));
}

TEST_F(SafetyTest, HeadersFileProblemsNameTheFileAndLineButNeverTheValue) {
  const std::string path = write("app.headers",
                                 "# comment\n"
                                 "Authorization: Bearer s3cr3t-one\n"
                                 "no colon s3cr3t-two\n"
                                 "Bad Name: s3cr3t-three\n"
                                 "X-Ctl: s3cr3t\x01four\n"
                                 "Content-Type: text/s3cr3t\n"
                                 "authorization: Bearer s3cr3t-five\n");
  LoadResult result = load(config("headers_file = \"app.headers\"\n"));
  const std::string key = "targets[0].headers_file: ";
  EXPECT_THAT(
      result.errors,
      ElementsAre(at(6, key + "line 3 of " + path + ": is not \"Name: value\""),
                  at(6, key + "line 4 of " + path +
                            ": the header name is not an HTTP token (letters, digits and !#$%&'*+-.^_`|~)"),
                  at(6, key + "line 5 of " + path + ": X-Ctl value must not contain control characters"),
                  at(6, key + "line 6 of " + path +
                            ": Content-Type is set by payhook on every delivery and cannot be replaced"),
                  at(6, key + "line 7 of " + path + ": authorization is already set on line 2")));
  EXPECT_THAT(everything(result), Not(HasSubstr("s3cr3t")));
}

TEST_F(SafetyTest, HeadersFileRefusesCarriageReturnsSoNoHeaderCanBeInjected) {
  // A CR before the LF would end the header early on the wire and start one the attacker chose.
  const std::string path =
      write("app.headers", "X-Token: s3cr3t\r\nX-Other: fine\nX-Evil: a\rInjected: s3cr3t-two\n");
  LoadResult result = load(config("headers_file = \"app.headers\"\n"));
  EXPECT_THAT(
      result.errors,
      ElementsAre(at(6, "targets[0].headers_file: line 1 of " + path +
                            ": contains a carriage return (CR); save the file with plain LF line ends"),
                  at(6, "targets[0].headers_file: line 3 of " + path +
                            ": contains a carriage return (CR); save the file with plain LF line ends")));
  EXPECT_THAT(everything(result), Not(HasSubstr("s3cr3t")));
}

TEST_F(SafetyTest, HeadersFileConflictsWithTheInlineTableAndMustExist) {
  const std::string path = write("app.headers", "# gateway\nX-Source: s3cr3t\n");
  LoadResult result = load(config("headers = { x-source = \"payhook\" }\nheaders_file = \"app.headers\"\n"));
  EXPECT_THAT(result.errors, ElementsAre(at(7, "targets[0].headers_file: line 2 of " + path +
                                                   ": X-Source is also set in targets[0].headers; set it in "
                                                   "one place")));
  EXPECT_THAT(everything(result), Not(HasSubstr("s3cr3t")));

  write("empty.headers", "# nothing yet\n\n");
  result = load(config("headers_file = \"empty.headers\"\n"));
  EXPECT_THAT(result.errors,
              ElementsAre(at(6, "targets[0].headers_file: " + (dir_ / "empty.headers").string() +
                                    " holds no header (it is empty, blank or only comments)")));

  result = load(config("headers_file = \"missing.headers\"\n"));
  EXPECT_THAT(result.errors,
              ElementsAre(at(6, "targets[0].headers_file: cannot read " +
                                    (dir_ / "missing.headers").string() + ": No such file or directory")));
}

TEST(HeadersFile, ParsesNameValueLines) {
  const ParsedHeaders parsed = parseHeadersFile("A: 1\n#x\n  \nB:2:3\nC:\n");
  EXPECT_THAT(parsed.problems, IsEmpty());
  ASSERT_EQ(parsed.headers.size(), 3u);
  EXPECT_EQ(parsed.headers[0].line, 1);
  EXPECT_EQ(parsed.headers[1].name, "B");
  EXPECT_EQ(parsed.headers[1].value, "2:3");
  EXPECT_EQ(parsed.headers[2].line, 5);
  EXPECT_EQ(parsed.headers[2].value, "");
  EXPECT_EQ(headerProblem("X-Ok", "a\tb"), "");
  EXPECT_EQ(headerProblem("X-Ok", std::string_view("a\0b", 3)), "value must not contain CR, LF or NUL");
}

}  // namespace
}  // namespace payhook::config
