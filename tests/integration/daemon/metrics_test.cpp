// GET /metrics on the admin listener of a real payhookd: the Prometheus text format, checked by promtool
// (Debian's prometheus package), with the counters moved by real callbacks and deliveries.
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "common/webhook_signature.h"
#include "support/config_toml.h"
#include "support/daemon_fixture.h"
#include "support/daemon_process.h"
#include "support/http_client.h"
#include "support/redis_server.h"
#include "support/sink.h"

namespace payhook::testing {
namespace {

class MetricsTest : public DaemonFixture {
 protected:
  void start(const std::string& sink_url) {
    DaemonOptions o;
    o.targets = targetToml("orders", sink_url);
    createDaemon(o);
    startDaemon();
  }

  int post(const std::string& msg_id, bool forge = false) {
    const std::string body = R"({"type":"invoice.paid"})";
    const std::string ts = std::to_string(std::time(nullptr));
    auto key = swh::decodeSecret(DaemonProcess::kDemoSecret).value();
    std::string sig = swh::signV1(key, msg_id, ts, body);
    if (forge) sig[sig.size() - 2] = sig[sig.size() - 2] == 'A' ? 'B' : 'A';
    return httpRequest(daemon_->address(), "POST", "/hooks/demo",
                       {{"webhook-id", msg_id}, {"webhook-timestamp", ts}, {"webhook-signature", sig}}, body)
        .status;
  }

  std::string scrape() {
    auto r = httpRequest(daemon_->adminAddress(), "GET", "/metrics");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    return r.body;
  }
};

bool has(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST_F(MetricsTest, CallbacksAndDeliveriesAreCountedAndPromtoolAcceptsTheExposition) {
  Sink app({200});
  start(app.url());
  ASSERT_EQ(post("msg_m1"), 204);
  ASSERT_EQ(post("msg_m1"), 204);        // duplicate
  ASSERT_EQ(post("msg_m2", true), 401);  // forged
  ASSERT_TRUE(waitFor([&] { return app.count() == 1; })) << daemon_->logs();

  std::string m;
  ASSERT_TRUE(waitFor([&] {
    m = scrape();
    return has(m, "payhook_deliveries_total{target=\"orders\",outcome=\"delivered\"} 1");
  })) << m;
  EXPECT_TRUE(
      has(m, "payhook_callbacks_total{route=\"demo\",provider=\"standard-webhooks\",outcome=\"stored\"} 1"))
      << m;
  EXPECT_TRUE(has(
      m, "payhook_callbacks_total{route=\"demo\",provider=\"standard-webhooks\",outcome=\"duplicate\"} 1"))
      << m;
  EXPECT_NE(
      m.find("payhook_callbacks_total{route=\"demo\",provider=\"standard-webhooks\",outcome=\"forged\"} 1"),
      std::string::npos)
      << m;
  EXPECT_TRUE(has(m, "payhook_callback_duration_seconds_count{route=\"demo\"} 3")) << m;
  EXPECT_TRUE(has(m, "payhook_delivery_duration_seconds_count{target=\"orders\"} 1")) << m;
  EXPECT_TRUE(has(m, "payhook_redis_up 1")) << m;
  EXPECT_TRUE(has(m, "payhook_redis_data_losses_total 0")) << m;
  EXPECT_TRUE(has(m, "payhook_circuit_breaker_state{target=\"orders\"} 0")) << m;
  EXPECT_TRUE(has(m, "payhook_deliveries_in_flight{target=\"orders\"} 0")) << m;
  EXPECT_NE(m.find("payhook_build_info{version=\""), std::string::npos) << m;
  EXPECT_NE(m.find("payhook_queue_jobs{state=\"dead\"}"), std::string::npos) << m;
  EXPECT_TRUE(has(m, "payhook_config_reloads_total{result=\"ok\"} 0")) << m;

  // promtool reads the exposition from stdin and lints it (names, types, units, help).
  const std::string file = daemon_->dir() + "/metrics.txt";
  writeFile(file, m);
  std::string out;
  const int rc = runProgram({"/bin/sh", "-c", "promtool check metrics < '" + file + "'"}, &out);
  EXPECT_EQ(rc, 0) << out << "\n" << m;

  // Redis away: the gauge follows.
  redis_.stop();
  ASSERT_TRUE(waitFor([&] { return has(scrape(), "payhook_redis_up 0"); })) << daemon_->logs();
}

}  // namespace
}  // namespace payhook::testing
