// SIGHUP under load: routes, targets and secrets change while callbacks keep arriving on kept-alive and
// fresh connections; not one request may fail, no connection may be dropped, and every stored event must
// still be delivered. A broken config is refused and the running one kept.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/webhook_signature.h"
#include "support/config_toml.h"
#include "support/daemon_process.h"
#include "support/http_client.h"
#include "support/redis_server.h"
#include "support/sink.h"
#include "support/store_inspect.h"

namespace payhook::testing {
namespace {

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string signedRequest(const std::string& path, const std::string& msg_id, bool close) {
  const std::string body = R"({"type":"invoice.paid"})";
  const std::string ts = std::to_string(std::time(nullptr));
  auto key = swh::decodeSecret(DaemonProcess::kDemoSecret).value();
  return "POST " + path + " HTTP/1.1\r\nhost: shop\r\nwebhook-id: " + msg_id +
         "\r\nwebhook-timestamp: " + ts + "\r\nwebhook-signature: " + swh::signV1(key, msg_id, ts, body) +
         "\r\ncontent-type: application/json\r\ncontent-length: " + std::to_string(body.size()) + "\r\n" +
         (close ? "connection: close\r\n" : "") + "\r\n" + body;
}

TEST(ReloadTest, SighupUnderLoadFailsNoRequestDropsNoConnectionAndLosesNoDelivery) {
  RedisServer redis;
  Sink app({200});
  DaemonOptions o;
  o.redis_url = redis.url();
  o.targets = targetToml("orders", app.url());
  DaemonProcess daemon(o);
  ASSERT_TRUE(daemon.start()) << daemon.logs();
  ASSERT_TRUE(daemon.waitReady(200, 15'000)) << daemon.logs();
  const std::string original = readFile(daemon.configPath());
  // The reloaded config: a second route, and the demo route's secret file with a rotated secret first.
  const std::string extended = original + R"(
[[routes]]
name = "second"
provider = "standard-webhooks"
path = "/hooks/second"
secret_file = "secrets/demo-rotated.whsec"
forward = ["orders"]
)";
  writeFile(daemon.dir() + "/secrets/demo-rotated.whsec",
            "whsec_cm90YXRlZC1zZWNyZXQtMDEyMzQ1Njc4OWFiY2RlZg==\n" + std::string(DaemonProcess::kDemoSecret) +
                "\n");

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0}, dropped{0};
  std::atomic<int> seq{0};
  // A kept-alive connection that must survive every reload, and a client opening a new one per request.
  std::thread keepalive([&] {
    HttpConnection c(daemon.address());
    if (!c.connected()) {
      ++dropped;
      return;
    }
    while (!stop) {
      if (!c.send(signedRequest("/hooks/demo", "msg_ka_" + std::to_string(seq++), false))) {
        ++dropped;
        return;
      }
      auto r = c.read(5'000);
      if (r.status == 0) {
        ++dropped;
        return;
      }
      (r.status == 204 ? ok : failed)++;
    }
  });
  std::thread fresh([&] {
    while (!stop) {
      HttpConnection c(daemon.address());
      if (!c.connected() || !c.send(signedRequest("/hooks/demo", "msg_fr_" + std::to_string(seq++), true))) {
        ++failed;
        continue;
      }
      auto r = c.read(5'000);
      (r.status == 204 ? ok : failed)++;
    }
  });

  for (int i = 0; i < 6; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    writeFile(daemon.configPath(), i % 2 == 0 ? extended : original);
    ASSERT_EQ(::kill(daemon.pid(), SIGHUP), 0);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  // The last reload left the extended config in force: the new route answers.
  auto second = httpRequest(daemon.address(), "POST", "/hooks/second", {}, "");
  EXPECT_EQ(second.status, 404);  // i = 5 wrote the original back
  writeFile(daemon.configPath(), extended);
  ASSERT_EQ(::kill(daemon.pid(), SIGHUP), 0);
  ASSERT_TRUE(waitFor([&] {
    HttpConnection c(daemon.address());
    c.send(signedRequest("/hooks/second", "msg_second_route", true));
    return c.read(2'000).status == 204;
  })) << daemon.logs();

  // A broken config is refused; the running one keeps serving.
  writeFile(daemon.configPath(), extended + "\n[[routes]]\nname = \"broken\"\n");
  ASSERT_EQ(::kill(daemon.pid(), SIGHUP), 0);
  ASSERT_TRUE(waitFor([&] { return daemon.logs().find("reload refused") != std::string::npos; }))
      << daemon.logs();
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  stop = true;
  keepalive.join();
  fresh.join();

  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(dropped.load(), 0) << "the kept-alive connection was closed by a reload";
  EXPECT_GT(ok.load(), 50);
  auto m = httpRequest(daemon.adminAddress(), "GET", "/metrics").body;
  EXPECT_NE(m.find("payhook_config_reloads_total{result=\"ok\"} 7"), std::string::npos) << m;
  EXPECT_NE(m.find("payhook_config_reloads_total{result=\"refused\"} 1"), std::string::npos) << m;

  // Every event stored across the reloads reaches the app.
  const size_t stored = countKeys(redis, "{payhook}:ev:*");
  EXPECT_EQ(stored, static_cast<size_t>(ok.load()) + 1);
  ASSERT_TRUE(waitFor([&] { return app.count() >= stored; }, 15'000))
      << app.count() << " of " << stored << "\n"
      << daemon.logs();
  EXPECT_EQ(daemon.stop(), 0) << daemon.logs();
  std::printf("reload under load: %d requests answered 204 across 8 SIGHUPs\n", ok.load());
}

}  // namespace
}  // namespace payhook::testing
