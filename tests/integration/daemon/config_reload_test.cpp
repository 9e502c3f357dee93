// What a reload changes for delivery: a target's headers_file is read (and read again on SIGHUP) like the
// other secret files, and a route taken out of the config leaves its jobs pending, not dead, until it is
// back.
#include <signal.h>

#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "support/config_toml.h"
#include "support/daemon_process.h"
#include "support/redis_server.h"
#include "support/signed_requests.h"
#include "support/sink.h"
#include "support/store_inspect.h"

namespace payhook::testing {
namespace {

std::string readConfig(const DaemonProcess& daemon) {
  std::ifstream in(daemon.configPath());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string field(const std::map<std::string, std::string>& hash, const std::string& name) {
  auto it = hash.find(name);
  return it == hash.end() ? std::string("<absent>") : it->second;
}

std::string headerOf(const SinkHit& hit, const std::string& name) {
  const std::string* value = hit.request.header(name);
  return value ? *value : std::string("<absent>");
}

TEST(ConfigReload, HeadersFileHeadersReachTheAppAndAreReadAgainOnSighup) {
  RedisServer redis;
  Sink app({200});
  DaemonOptions o;
  o.redis_url = redis.url();
  o.targets = targetToml("orders", app.url(),
                         "headers = { X-Source = \"payhook\" }\nheaders_file = \"secrets/orders.headers\"");
  DaemonProcess daemon(o);
  writeFile(daemon.dir() + "/secrets/orders.headers",
            "# the app's gateway\nAuthorization: Bearer first-b34r3r-t0ken\nX-Tenant: shop-1\n");
  ASSERT_TRUE(daemon.start()) << daemon.logs();
  ASSERT_TRUE(daemon.waitReady(200, 15'000)) << daemon.logs();

  ASSERT_EQ(postStandardWebhook(daemon.address(), "msg_h1").status, 204);
  ASSERT_TRUE(waitFor([&] { return app.count() >= 1; })) << daemon.logs();
  SinkHit first = app.hits().at(0);
  EXPECT_EQ(headerOf(first, "authorization"), "Bearer first-b34r3r-t0ken");
  EXPECT_EQ(headerOf(first, "x-tenant"), "shop-1");
  EXPECT_EQ(headerOf(first, "x-source"), "payhook");

  // A rotated token is picked up by a reload.
  writeFile(daemon.dir() + "/secrets/orders.headers", "Authorization: Bearer second-b34r3r-t0ken\n");
  ASSERT_EQ(::kill(daemon.pid(), SIGHUP), 0);
  ASSERT_TRUE(waitFor([&] { return daemon.logs().find("\"reloaded\"") != std::string::npos; }))
      << daemon.logs();
  ASSERT_EQ(postStandardWebhook(daemon.address(), "msg_h2").status, 204);
  ASSERT_TRUE(waitFor([&] { return app.count() >= 2; })) << daemon.logs();
  SinkHit second = app.hits().at(1);
  EXPECT_EQ(headerOf(second, "authorization"), "Bearer second-b34r3r-t0ken");
  EXPECT_EQ(headerOf(second, "x-tenant"), "<absent>");

  // A broken file is refused with its line, and the value is never printed.
  writeFile(daemon.dir() + "/secrets/orders.headers", "Authorization: Bearer third\r\n");
  ASSERT_EQ(::kill(daemon.pid(), SIGHUP), 0);
  ASSERT_TRUE(waitFor([&] { return daemon.logs().find("reload refused") != std::string::npos; }))
      << daemon.logs();
  EXPECT_NE(
      daemon.logs().find("targets[0].headers_file: line 1 of " + daemon.dir() + "/secrets/orders.headers"),
      std::string::npos)
      << daemon.logs();
  EXPECT_EQ(daemon.stop(), 0) << daemon.logs();
  const std::string logs = daemon.logs();
  for (const char* secret : {"b34r3r", "Bearer third"})
    EXPECT_EQ(logs.find(secret), std::string::npos) << "a header value reached the log: " << logs;
}

TEST(ConfigReload, ARemovedRoutesJobsStayPendingAndAreDeliveredOnceItIsBack) {
  RedisServer redis;
  // The first attempt fails, so the job is due again while the route is out of the config.
  Sink app({503, 200});
  DaemonOptions o;
  o.redis_url = redis.url();
  o.delivery = "lease_timeout = \"7s\"\nsweep_interval = \"1s\"\n";
  o.targets = targetToml("orders", app.url(), "breaker_failures = 0", "1s");
  const std::string demo = demoRouteToml();
  const std::string second = R"(
[[routes]]
name = "second"
provider = "standard-webhooks"
path = "/hooks/second"
secret_file = "secrets/demo.whsec"
forward = ["orders"]
retry = { schedule = ["2s", "2s"] }
)";
  o.routes = demo + second;
  DaemonProcess daemon(o);
  ASSERT_TRUE(daemon.start()) << daemon.logs();
  ASSERT_TRUE(daemon.waitReady(200, 15'000)) << daemon.logs();
  const std::string with_second = readConfig(daemon);

  ASSERT_EQ(postStandardWebhook(daemon.address(), "msg_gone", kInvoiceBody, "/hooks/second").status, 204);
  ASSERT_TRUE(waitFor([&] { return app.count() >= 1; })) << daemon.logs();

  // The route leaves the config while its job waits for its second attempt.
  std::string without = with_second;
  without.erase(without.find(second), second.size());
  writeFile(daemon.configPath(), without);
  ASSERT_EQ(::kill(daemon.pid(), SIGHUP), 0);
  ASSERT_TRUE(waitFor([&] {
    return daemon.logs().find("jobs wait for a route that is not in the config") != std::string::npos;
  })) << daemon.logs();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(app.count(), 1u);
  EXPECT_EQ(queuedJobCount(redis), 1);
  EXPECT_EQ(redis.command({"ZCARD", "{payhook}:dead"}).integer, 0);
  EXPECT_EQ(field(storedEvent(redis, "second", "msg_gone"), "state"), "retrying");
  EXPECT_EQ(daemon.logs().find("buried"), std::string::npos) << daemon.logs();

  // Back in the config: delivered within a lease_timeout, its attempt while away not counted.
  writeFile(daemon.configPath(), with_second);
  ASSERT_EQ(::kill(daemon.pid(), SIGHUP), 0);
  ASSERT_TRUE(waitFor([&] { return app.count() >= 2; }, 15'000)) << daemon.logs();
  ASSERT_TRUE(waitFor([&] {
    return field(storedEvent(redis, "second", "msg_gone"), "state") == "delivered";
  })) << daemon.logs();
  EXPECT_EQ(field(storedEvent(redis, "second", "msg_gone"), "attempts:orders"), "2");
  EXPECT_EQ(daemon.stop(), 0) << daemon.logs();
}

}  // namespace
}  // namespace payhook::testing
