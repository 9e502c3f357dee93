// The delivery engine end to end: the real payhookd and redis-server, and the shop's app played by a
// payhook::http::Server on its own loop thread in this process. A stored Standard Webhooks callback must
// reach the app signed with the target's secret, be retried on the route's schedule, and end delivered or
// dead in Redis.
#include <chrono>
#include <ctime>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/webhook_signature.h"
#include "http/server.h"
#include "support/config_toml.h"
#include "support/daemon_fixture.h"
#include "support/daemon_process.h"
#include "support/http_client.h"
#include "support/redis_server.h"
#include "support/signed_requests.h"
#include "support/sink.h"
#include "support/store_inspect.h"

namespace payhook::testing {
namespace {

using nlohmann::json;

// What DaemonProcess writes into secrets/orders.whsec.
constexpr const char* kOrdersSecret = "whsec_b3JkZXJzLXRhcmdldC1zZWNyZXQtMDEyMzQ1Njc=";

class DeliveryTest : public DaemonFixture {
 protected:
  void start(const std::string& sink_url) {
    DaemonOptions o;
    o.targets = targetToml("orders", sink_url, "headers = { x-internal-token = \"static-token\" }", "5s");
    o.routes = demoRouteToml(R"(retry = { schedule = ["200ms", "200ms"], jitter = 0.0 })");
    createDaemon(o);
    startDaemon();
  }

  void TearDown() override {
    if (daemon_) {
      const std::string logs = daemon_->logs();
      EXPECT_EQ(logs.find(kOrdersSecret), std::string::npos) << "the target secret reached the log";
      EXPECT_EQ(logs.find("static-token"), std::string::npos) << "a target header value reached the log";
    }
    DaemonFixture::TearDown();
  }

  // Posts a Standard Webhooks callback signed with the demo route's secret; returns the stored event id.
  std::string postCallback(const std::string& msg_id) {
    auto resp = payhook::testing::postStandardWebhook(daemon_->address(), msg_id);
    EXPECT_EQ(resp.status, 204) << resp.body << daemon_->logs();
    return redis_.command({"GET", "{payhook}:idem:demo:" + msg_id}).str;
  }
};

TEST_F(DeliveryTest, AStoredCallbackReachesTheAppSignedWithTheTargetsSecret) {
  Sink sink({200});
  start(sink.url());
  const std::string id = postCallback("msg_delivery_1");
  ASSERT_FALSE(id.empty()) << daemon_->logs();
  ASSERT_TRUE(waitFor([&] { return state(id) == "delivered"; })) << state(id) << daemon_->logs();

  auto got = sink.received();
  ASSERT_EQ(got.size(), 1u);
  const http::Request& r = got[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/events");
  ASSERT_NE(r.header("content-type"), nullptr);
  EXPECT_EQ(*r.header("content-type"), "application/json");
  ASSERT_NE(r.header("x-internal-token"), nullptr);
  EXPECT_EQ(*r.header("x-internal-token"), "static-token");
  const std::string* wid = r.header("webhook-id");
  const std::string* wts = r.header("webhook-timestamp");
  const std::string* wsig = r.header("webhook-signature");
  ASSERT_TRUE(wid && wts && wsig);
  EXPECT_EQ(*wid, id);
  swh::VerifyKeys keys;
  keys.hmac.push_back(swh::decodeSecret(kOrdersSecret).value());
  EXPECT_EQ(swh::verify(keys, *wid, *wts, *wsig, r.body, unixNowMs()), swh::VerifyResult::kOk);
  swh::VerifyKeys wrong;
  wrong.hmac.push_back(swh::decodeSecret(DaemonProcess::kDemoSecret).value());
  EXPECT_EQ(swh::verify(wrong, *wid, *wts, *wsig, r.body, unixNowMs()), swh::VerifyResult::kBadSignature);

  json envelope = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(envelope.is_object()) << r.body;
  EXPECT_EQ(envelope["id"], id);
  EXPECT_EQ(envelope["route"], "demo");
  EXPECT_EQ(envelope["provider"], "standard-webhooks");
  EXPECT_EQ(envelope["attempt"], 1);
  EXPECT_EQ(envelope["verified"], true);

  // The attempt is on record, and the job is in no set any more.
  auto attempts = redis_.command({"LRANGE", "{payhook}:attempts:" + id, "0", "-1"});
  ASSERT_EQ(attempts.elements.size(), 1u);
  json a = json::parse(attempts.elements[0].str, nullptr, false);
  EXPECT_EQ(a.value("status", 0), 200);
  EXPECT_EQ(a.value("result", ""), "delivered");
  EXPECT_EQ(a.value("answer_head", ""), "sink says 200");
  EXPECT_EQ(queuedJobCount(redis_), 0);
  EXPECT_EQ(redis_.command({"ZCARD", "{payhook}:leased"}).integer, 0);
  EXPECT_NE(daemon_->logs().find("\"outcome\":\"delivered\""), std::string::npos) << daemon_->logs();
}

TEST_F(DeliveryTest, TwoFailuresThenSuccessTakeThreeAttempts) {
  Sink sink({500, 500, 200});
  start(sink.url());
  const std::string id = postCallback("msg_delivery_2");
  ASSERT_FALSE(id.empty()) << daemon_->logs();
  ASSERT_TRUE(waitFor([&] { return state(id) == "delivered"; })) << state(id) << daemon_->logs();

  auto got = sink.received();
  ASSERT_EQ(got.size(), 3u) << daemon_->logs();
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NE(got[i].header("webhook-id"), nullptr);
    EXPECT_EQ(*got[i].header("webhook-id"), id) << "the id is stable across attempts";
    json envelope = json::parse(got[i].body, nullptr, false);
    EXPECT_EQ(envelope.value("attempt", 0), static_cast<int>(i + 1));
  }
  auto attempts = redis_.command({"LRANGE", "{payhook}:attempts:" + id, "0", "-1"});
  EXPECT_EQ(attempts.elements.size(), 3u);
}

TEST_F(DeliveryTest, GoneIsDeadAfterOneAttempt) {
  Sink sink({410});
  start(sink.url());
  const std::string id = postCallback("msg_delivery_3");
  ASSERT_FALSE(id.empty()) << daemon_->logs();
  ASSERT_TRUE(waitFor([&] { return state(id) == "dead"; })) << state(id) << daemon_->logs();
  EXPECT_EQ(redis_.command({"ZCARD", "{payhook}:dead"}).integer, 1);
  // The schedule would retry after 200 ms: nothing more may come.
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  EXPECT_EQ(sink.received().size(), 1u) << daemon_->logs();
  EXPECT_EQ(state(id), "dead");
  EXPECT_NE(daemon_->logs().find("\"outcome\":\"dead\""), std::string::npos) << daemon_->logs();

  // One attempt on record, buried as gone with the schedule unused, and the job is in dead, not leased.
  auto attempts = redis_.command({"LRANGE", "{payhook}:attempts:" + id, "0", "-1"});
  ASSERT_EQ(attempts.elements.size(), 1u);
  json a = json::parse(attempts.elements[0].str, nullptr, false);
  EXPECT_EQ(a.value("attempt", 0), 1) << a.dump();
  EXPECT_EQ(a.value("status", 0), 410) << a.dump();
  EXPECT_EQ(a.value("result", ""), "dead") << a.dump();
  EXPECT_EQ(a.value("reason", ""), "gone (410)") << a.dump();
  EXPECT_FALSE(a.contains("next_due")) << a.dump();
  auto ev = eventHash(redis_, "{payhook}:ev:" + id);
  EXPECT_EQ(ev["status:orders"], "dead");
  EXPECT_EQ(ev["attempts:orders"], "1");
  EXPECT_EQ(redis_.command({"ZRANGE", "{payhook}:dead", "0", "-1"}).elements.at(0).str, id + "|orders");
  EXPECT_EQ(redis_.command({"ZCARD", "{payhook}:leased"}).integer, 0);
}

}  // namespace
}  // namespace payhook::testing
