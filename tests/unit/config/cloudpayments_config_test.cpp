// The `cloudpayments` route's keys as the loader reads them: every problem as FILE:LINE: key: message.
#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "handlers/cloudpayments/settings.h"
#include "handlers/registry.h"

namespace payhook::config {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

class CloudPaymentsConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "payhook-cp-config-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    write("orders.whsec", "whsec_bc+ivVGMTrYO01zpxlM3PikqN14cihZ90mzZIl9SDB8=\n");
    write("cp.secret", "api-secret-0123456789\n");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const fs::path& relative, std::string_view content) {
    const fs::path path = dir_ / relative;
    std::ofstream(path) << content;
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
  }
  std::string file() const { return (dir_ / "payhook.toml").string(); }
  std::string at(int line, std::string_view rest) const {
    return file() + ":" + std::to_string(line) + ": " + std::string(rest);
  }
  LoadResult load(std::string_view route) {
    // Lines 1-5 are the target; the route starts on line 6.
    const std::string toml = R"(
[[targets]]
name = "orders"
url = "http://127.0.0.1:9000/payhook"
secret_file = "orders.whsec"
)" + std::string(route);
    return loadConfigString(toml, file(), {}, handlers::providerCatalog());
  }

  fs::path dir_;
};

TEST_F(CloudPaymentsConfigTest, ARouteLoadsItsSecret) {
  const LoadResult result = load(R"([[routes]]
name = "cp"
provider = "cloudpayments"
path = "/cloudpayments"
api_secret_file = "cp.secret"
decision = "orders"
decision_timeout = "3s"
forward = ["orders"]
)");
  EXPECT_THAT(result.errors, IsEmpty());
  EXPECT_THAT(result.warnings, IsEmpty());
  ASSERT_TRUE(result.config.has_value());
  const auto* settings = result.config->routes.at(0).settingsAs<handlers::cloudpayments::Settings>();
  ASSERT_NE(settings, nullptr);
  EXPECT_EQ(settings->api_secret.reveal(), "api-secret-0123456789");
  EXPECT_EQ(result.config->routes.at(0).decision_timeout_ms, 3'000u);
}

TEST_F(CloudPaymentsConfigTest, TheSecretAndTheDecisionTargetAreRequired) {
  const LoadResult result = load(R"([[routes]]
name = "cp"
provider = "cloudpayments"
path = "/cloudpayments"
forward = ["orders"]
)");
  EXPECT_THAT(
      result.errors,
      ElementsAre(at(6, "routes[0].api_secret_file: is required for provider \"cloudpayments\""),
                  at(6,
                     "routes[0].decision: is required for provider \"cloudpayments\": Check asks this "
                     "target before the payment is taken")));
  EXPECT_FALSE(result.config.has_value());
}

TEST_F(CloudPaymentsConfigTest, AMissingSecretFileIsNamedWithItsLine) {
  const LoadResult result = load(R"([[routes]]
name = "cp"
provider = "cloudpayments"
path = "/cloudpayments"
api_secret_file = "nope.secret"
decision = "orders"
)");
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_THAT(result.errors[0], HasSubstr(at(10, "routes[0].api_secret_file: ")));
  EXPECT_FALSE(result.config.has_value());
}

TEST_F(CloudPaymentsConfigTest, AnEmptySecretIsRefused) {
  write("empty.secret", "\n");
  const LoadResult result = load(R"([[routes]]
name = "cp"
provider = "cloudpayments"
path = "/cloudpayments"
api_secret_file = "empty.secret"
decision = "orders"
)");
  ASSERT_FALSE(result.errors.empty());
  EXPECT_THAT(result.errors[0], HasSubstr("routes[0].api_secret_file: "));
  EXPECT_THAT(result.errors[0], HasSubstr(file() + ":10: "));
  EXPECT_FALSE(result.config.has_value());
}

TEST_F(CloudPaymentsConfigTest, AnInlineSecretIsWarnedAboutAndNeverShown) {
  const LoadResult result = load(R"([[routes]]
name = "cp"
provider = "cloudpayments"
path = "/cloudpayments"
api_secret = "inline-secret-value"
decision = "orders"
)");
  EXPECT_THAT(result.errors, IsEmpty());
  ASSERT_EQ(result.warnings.size(), 1u);
  EXPECT_THAT(result.warnings[0], HasSubstr("routes[0].api_secret"));
  EXPECT_THAT(result.warnings[0], Not(HasSubstr("inline-secret-value")));
}

TEST_F(CloudPaymentsConfigTest, AnUnknownKeyIsNamed) {
  const LoadResult result = load(R"([[routes]]
name = "cp"
provider = "cloudpayments"
path = "/cloudpayments"
api_secret_file = "cp.secret"
decision = "orders"
secret_file = "cp.secret"
)");
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_THAT(result.errors[0], HasSubstr(at(12, "routes[0].secret_file: ")));
}

}  // namespace
}  // namespace payhook::config
