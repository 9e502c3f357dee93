// Logs an attacker cannot bloat: a refusal quotes a client's name clipped, and a flood of refusals on one
// route is logged up to [log] refusals_per_second (after a burst) plus one summary line, while the metrics
// count every refusal and "callback stored" lines are never held back.
#include <chrono>
#include <regex>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "support/daemon_process.h"
#include "support/http_client.h"
#include "support/redis_server.h"
#include "support/signed_requests.h"
#include "support/sink.h"

namespace payhook::testing {
namespace {

std::vector<std::string> linesWith(const std::string& logs, const std::string& needle) {
  std::vector<std::string> out;
  std::istringstream in(logs);
  for (std::string line; std::getline(in, line);)
    if (line.find(needle) != std::string::npos) out.push_back(line);
  return out;
}

TEST(RefusalLog, ASixtyKilobyteFieldNameLogsALineUnderAKilobyte) {
  RedisServer redis;
  DaemonOptions o;
  o.redis_url = redis.url();
  o.extra_server = "max_body = \"256KiB\"\n";
  o.routes = R"(
[[routes]]
name = "pip"
provider = "payinpayout"
path = "/pip"
secret_file = "secrets/pip.secret"
forward = ["orders"]
)";
  DaemonProcess daemon(o);
  writeFile(daemon.dir() + "/secrets/pip.secret", "secret_key\n");
  ASSERT_TRUE(daemon.start()) << daemon.logs();
  ASSERT_TRUE(daemon.waitReady(200, 15'000)) << daemon.logs();

  const std::string name(60 * 1024, 'n');
  auto r = httpRequest(daemon.address(), "POST", "/pip/callback",
                       {{"content-type", "application/x-www-form-urlencoded"}}, name + "=1&" + name + "=2");
  EXPECT_EQ(r.status, 400);
  EXPECT_LT(r.body.size(), 1024u);
  ASSERT_TRUE(waitFor([&] { return !linesWith(daemon.logs(), "callback refused").empty(); }))
      << daemon.logs();
  const auto refused = linesWith(daemon.logs(), "callback refused");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_LT(refused[0].size(), 1024u) << refused[0];
  EXPECT_NE(refused[0].find("(+61376 bytes)"), std::string::npos) << refused[0];
  EXPECT_EQ(daemon.stop(), 0);
}

TEST(RefusalLog, AFloodOfRefusalsIsLoggedUpToTheLimitPlusASummary) {
  RedisServer redis;
  DaemonOptions o;
  o.redis_url = redis.url();
  o.log_level = "info";
  DaemonProcess daemon(o);
  ASSERT_TRUE(daemon.start()) << daemon.logs();
  ASSERT_TRUE(daemon.waitReady(200, 15'000)) << daemon.logs();

  constexpr int kFlood = 300;
  const auto started = std::chrono::steady_clock::now();
  HttpConnection c(daemon.address());
  ASSERT_TRUE(c.connected());
  for (int i = 0; i < kFlood; ++i) {
    auto headers = standardWebhookHeaders("msg_forged_" + std::to_string(i), kInvoiceBody);
    headers[2].second = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    std::string request =
        "POST /hooks/demo HTTP/1.1\r\nhost: shop\r\ncontent-length: " + std::to_string(kInvoiceBody.size()) +
        "\r\n";
    for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
    ASSERT_TRUE(c.send(request + "\r\n" + kInvoiceBody));
    ASSERT_EQ(c.read(5'000).status, 401);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  // A stored callback in the middle of it all is logged.
  ASSERT_EQ(postStandardWebhook(daemon.address(), "msg_real").status, 204);
  ASSERT_TRUE(waitFor([&] { return !linesWith(daemon.logs(), "\"callback stored\"").empty(); }))
      << daemon.logs();

  const size_t logged = linesWith(daemon.logs(), "\"callback refused\"").size();
  EXPECT_GE(logged, 20u);
  EXPECT_LE(logged, 20u + static_cast<size_t>(5 * seconds) + 1) << "in " << seconds << " s";

  // The rest is summed up within the summary interval (10 s).
  uint64_t not_logged = 0;
  ASSERT_TRUE(waitFor(
      [&] {
        not_logged = 0;
        const std::regex count("\"not_logged\":([0-9]+)");
        for (const auto& line : linesWith(daemon.logs(), "callback refusals not logged")) {
          std::smatch m;
          EXPECT_NE(line.find("\"route\":\"demo\""), std::string::npos) << line;
          if (std::regex_search(line, m, count)) not_logged += std::stoull(m[1]);
        }
        return logged + not_logged == kFlood;
      },
      15'000))
      << logged << " logged, " << not_logged << " summed up\n"
      << daemon.logs();

  auto metrics = httpRequest(daemon.adminAddress(), "GET", "/metrics").body;
  EXPECT_NE(metrics.find(
                "payhook_callbacks_total{route=\"demo\",provider=\"standard-webhooks\",outcome=\"forged\"} " +
                std::to_string(kFlood)),
            std::string::npos)
      << metrics;
  EXPECT_EQ(daemon.stop(), 0);
}

}  // namespace
}  // namespace payhook::testing
