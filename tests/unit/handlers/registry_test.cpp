#include "handlers/registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "handlers/robokassa/settings.h"
#include "handlers/tbank/settings.h"

namespace payhook::handlers {
namespace {

using ::testing::ElementsAre;

TEST(Registry, EveryProviderOnceInItsOrder) {
  EXPECT_THAT(providerNames(),
              ElementsAre("yoomoney", "rbs", "integra", "payinpayout", "allpay", "standard-webhooks",
                          "cloudpayments", "robokassa", "tbank", "yookassa"));
  // Every provider lists the keys it reads, each once.
  for (const auto& config : providerCatalog()) {
    auto keys = config.keys;
    std::sort(keys.begin(), keys.end());
    EXPECT_EQ(std::adjacent_find(keys.begin(), keys.end()), keys.end()) << config.name;
    EXPECT_TRUE(config.read) << config.name;
  }
}

TEST(Registry, BuildsARobokassaAndATBankHandlerFromTheirSettings) {
  config::RouteConfig robo;
  robo.name = "robo";
  robo.provider = "robokassa";
  auto robo_settings = std::make_shared<robokassa::Settings>();
  robo_settings->password2 = Secret(std::string("test_password2"));
  robo_settings->hash = HashAlgorithm::kRipemd160;
  robo.settings = robo_settings;
  auto made = makeHandler(robo);
  ASSERT_TRUE(made.ok()) << made.error().message;
  ASSERT_EQ((*made)->endpoints().size(), 1u);
  EXPECT_EQ((*made)->endpoints()[0].suffix, "/result");
  EXPECT_EQ(makeFollowUp(robo), nullptr);

  config::RouteConfig tb;
  tb.name = "tb";
  tb.provider = "tbank";
  auto tb_settings = std::make_shared<tbank::Settings>();
  tb_settings->terminal_key = "T";
  tb_settings->password = Secret(std::string("pw"));
  tb.settings = tb_settings;
  made = makeHandler(tb);
  ASSERT_TRUE(made.ok()) << made.error().message;
  EXPECT_EQ((*made)->endpoints()[0].suffix, "/notify");

  // Settings of another provider are refused by name, never cast.
  tb.settings = robo_settings;
  made = makeHandler(tb);
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.error().message, "provider: the route's settings are not tbank's");

  config::RouteConfig unknown;
  unknown.provider = "stripe";
  EXPECT_FALSE(makeHandler(unknown).ok());
}

}  // namespace
}  // namespace payhook::handlers
