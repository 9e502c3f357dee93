// The queue page in a real browser: Debian's Chromium, driven by tests/node/ui_browser.mjs (playwright-core,
// pinned in tests/node/package-lock.json), against the real payhookd, redis-server and apps. The test seeds
// events through signed callbacks (one delivered, one whose payload holds markup, one dead whose app answers
// 410 once and 200 after) and the script signs in, reads the overview, searches, opens events, retries the
// dead one through the confirmation, and signs out. It leaves overview.png and event.png in
// <build>/ui-screenshots/. Skipped only when node or /usr/bin/chromium is missing (scripts/install-deps.sh
// installs both).
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/config_toml.h"
#include "support/daemon_fixture.h"
#include "support/daemon_process.h"
#include "support/signed_requests.h"
#include "support/sink.h"
#include "support/store_inspect.h"
#include "support/wait.h"

namespace payhook::testing {
namespace {

constexpr const char* kToken = "ui-browser-token-Hs8Kd02nVq";
constexpr const char* kChromium = "/usr/bin/chromium";
const std::string kNodeDir = std::string(PAYHOOK_SOURCE_DIR) + "/tests/node";

std::string findNode() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(std::string(path ? path : "") + ":/usr/local/bin:/usr/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    const std::string candidate = dir + "/node";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

class UiBrowserTest : public DaemonFixture {};

TEST_F(UiBrowserTest, AnOperatorSignsInFindsAnEventAndRetriesADeadOne) {
  const std::string node = findNode();
  if (node.empty()) GTEST_SKIP() << "node is not installed: scripts/install-deps.sh installs it";
  if (::access(kChromium, X_OK) != 0)
    GTEST_SKIP() << kChromium << " is missing: scripts/install-deps.sh installs Debian's chromium";
  ASSERT_TRUE(std::filesystem::exists(kNodeDir + "/node_modules/playwright-core/package.json"))
      << kNodeDir
      << "/node_modules has no playwright-core: run scripts/install-deps.sh (npm ci --prefix tests/node)";

  Sink orders({200});
  Sink ledger({410, 200});  // the refund dies at once; its retry is delivered
  DaemonOptions o;
  o.extra_admin = "token_file = \"secrets/admin.token\"\n";
  o.targets = targetToml("orders", orders.url(), "", "5s") + targetToml("ledger", ledger.url(), "", "5s");
  o.routes = demoRouteToml() +
             "[[routes]]\nname = \"refunds\"\nprovider = \"standard-webhooks\"\npath = \"/hooks/refunds\"\n"
             "secret_file = \"secrets/demo.whsec\"\nforward = [\"ledger\"]\n";
  createDaemon(o);
  writeSecret("admin.token", std::string(kToken) + "\n");
  startDaemon();

  auto post = [&](const std::string& msg, const std::string& body, const std::string& path) {
    EXPECT_EQ(postStandardWebhook(daemon_->address(), msg, body, path).status, 204) << msg;
    const std::string route = path == "/hooks/demo" ? "demo" : "refunds";
    return storedEvent(redis_, route, msg)["id"];
  };
  const std::string order_id = post(
      "order-4711", R"({"type":"invoice.paid","data":{"order_id":"4711","amount":"10.50","currency":"RUB"}})",
      "/hooks/demo");
  const std::string xss_id =
      post("msg-markup",
           R"({"type":"invoice.paid","data":{"note":"<script>window.__xss=1</script>",)"
           R"("name":"\"><img src=x onerror=\"window.__xss=2\">"}})",
           "/hooks/demo");
  const std::string dead_id = post(
      "refund-17", R"({"type":"refund.created","data":{"order_id":"17","amount":"3.00"}})", "/hooks/refunds");
  // Enough for two pages of ten.
  for (int i = 1; i <= 9; ++i) post("bulk-" + std::to_string(i), kInvoiceBody, "/hooks/demo");
  ASSERT_TRUE(waitFor([&] { return state(order_id) == "delivered" && state(xss_id) == "delivered"; }))
      << daemon_->logs();
  ASSERT_TRUE(waitFor([&] { return state(dead_id) == "dead"; })) << daemon_->logs();

  const std::string shots = std::string(PAYHOOK_BINARY_DIR) + "/ui-screenshots";
  std::filesystem::remove_all(shots);
  const std::pair<const char*, std::string> env[] = {
      {"PAYHOOK_ADMIN_URL", "http://" + daemon_->adminAddress()},
      {"PAYHOOK_ADMIN_TOKEN", kToken},
      {"PAYHOOK_UI_EVENT", order_id},
      {"PAYHOOK_UI_KEY", "order-4711"},
      {"PAYHOOK_UI_ORDER", "4711"},
      {"PAYHOOK_UI_ROUTE", "demo"},
      {"PAYHOOK_UI_XSS", xss_id},
      {"PAYHOOK_UI_DEAD", dead_id},
      {"PAYHOOK_UI_TARGETS", "ledger,orders"},
      {"PAYHOOK_UI_SCREENSHOTS", shots},
      {"CHROMIUM", kChromium},
  };
  for (const auto& [name, value] : env) ::setenv(name, value.c_str(), 1);
  std::string output;
  const int rc = runProgram({node, kNodeDir + "/ui_browser.mjs"}, &output);
  for (const auto& [name, value] : env) ::unsetenv(name);
  std::cout << output;  // which steps ran (the key search activates once rows carry `key`)
  ASSERT_EQ(rc, 0) << output << "\n(screenshots in " << shots << ")\n" << daemon_->logs();
  EXPECT_TRUE(std::filesystem::exists(shots + "/overview.png"));
  EXPECT_TRUE(std::filesystem::exists(shots + "/event.png"));
  EXPECT_EQ(state(dead_id), "delivered");
  EXPECT_EQ(ledger.count(), 2u);
  EXPECT_EQ(daemon_->logs().find(kToken), std::string::npos) << "the admin token reached the log";
}

}  // namespace
}  // namespace payhook::testing
