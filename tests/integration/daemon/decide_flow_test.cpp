// The synchronous Decide flow (YooMoney checkOrder) end to end: the real payhookd and redis-server, and the
// shop's decision app played by a payhook::http::Server on its own loop thread in this process. Asserts the
// XML YooMoney gets, the audit event in Redis (with the decision, and no delivery job) and that what the app
// receives verifies with the target's secret.
#include <uv.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/webhook_signature.h"
#include "handlers/digest.h"
#include "http/server.h"
#include "support/daemon_fixture.h"
#include "support/daemon_process.h"
#include "support/decision_sink.h"
#include "support/http_client.h"
#include "support/loop_thread.h"
#include "support/redis_server.h"
#include "support/store_inspect.h"
#include "support/yoomoney_form.h"

namespace payhook::testing {
namespace {

using nlohmann::json;

using yoomoney::kPassword;  // YooMoney's published test vector
constexpr const char* kTargetSecret = "whsec_ZGVjaXNpb24tdGFyZ2V0LXNlY3JldC0wMTIzNDU=";

// A signed checkOrder as YooMoney sends it.
std::string checkOrder(const std::string& invoice_id = "55") {
  return yoomoney::formBody(yoomoney::request("checkOrder", invoice_id));
}

// The answer with its performedDatetime replaced by "T", so the rest compares byte for byte.
std::string withoutDatetime(const std::string& body) {
  static const std::regex kDatetime(R"(performedDatetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00")");
  std::smatch m;
  if (!std::regex_search(body, m, kDatetime)) return "no performedDatetime in: " + body;
  return m.prefix().str() + "performedDatetime=\"T\"" + m.suffix().str();
}

std::string checkXml(const std::string& attributes) {
  return R"(<?xml version="1.0" encoding="UTF-8"?><checkOrderResponse performedDatetime="T" )" + attributes +
         "/>";
}

class DecideFlowTest : public DaemonFixture {
 protected:
  void start(const std::string& target_url, const std::string& decision_timeout = "5s",
             const std::string& extra_redis = "") {
    DaemonOptions o;
    o.extra_redis = extra_redis;
    o.targets = R"(
[[targets]]
name = "orders"
url = "http://127.0.0.1:9/payhook"
secret_file = "secrets/orders.whsec"

[[targets]]
name = "shop-decisions"
url = ")" + target_url +
                R"("
secret_file = "secrets/decisions.whsec"
timeout = "10s"
headers = { x-internal-token = "static-token" }
)";
    o.routes = R"(
[[routes]]
name = "shop"
provider = "yoomoney"
path = "/yoomoney"
shop_id = "13"
shop_password_file = "secrets/yoomoney.pass"
decision = "shop-decisions"
decision_timeout = ")" +
               decision_timeout +
               R"("
forward = ["orders"]
)";
    createDaemon(o);
    writeSecret("yoomoney.pass", std::string(kPassword) + "\n");
    writeSecret("decisions.whsec", std::string(kTargetSecret) + "\n");
    if (extra_redis.empty()) {
      startDaemon();
    } else {
      // Ready or not depends on what the extra settings ask of Redis: the test waits for what it expects.
      ASSERT_TRUE(daemon_->start()) << daemon_->logs();
    }
  }

  void TearDown() override {
    if (daemon_) {
      const std::string logs = daemon_->logs();
      EXPECT_EQ(logs.find(kPassword), std::string::npos) << "the shop password reached the log";
      EXPECT_EQ(logs.find(kTargetSecret), std::string::npos) << "the target secret reached the log";
      EXPECT_EQ(logs.find("static-token"), std::string::npos) << "a target header value reached the log";
    }
    DaemonFixture::TearDown();
  }

  HttpResponse check(const std::string& body) {
    return httpRequest(daemon_->address(), "POST", "/yoomoney/check",
                       {{"content-type", "application/x-www-form-urlencoded"}}, body);
  }

  // The stored audit event for invoice `invoice_id`, with its data parsed; checks there is no delivery job.
  // A check is asked about once per invoice (idempotency key "checkOrder:<invoiceId>"); the decisions stored
  // for one invoice, oldest first (older layouts kept one record per check, "checkOrder:<invoiceId>:<id>").
  std::vector<json> storedDecisions(const std::string& invoice_id = "55") {
    auto keys = redis_.command({"KEYS", "{payhook}:idem:shop:checkOrder:" + invoice_id + "*"});
    std::vector<std::pair<std::string, json>> found;  // (received_at, decision)
    for (const auto& key : keys.elements) {
      auto id = redis_.command({"GET", key.str});
      if (id.type != RedisReply::kString) continue;
      auto ev = eventHash(redis_, "{payhook}:ev:" + id.str);
      EXPECT_EQ(ev["type"], "yoomoney.check_order");
      EXPECT_EQ(ev["route"], "shop");
      EXPECT_EQ(ev["raw_path"], "/yoomoney/check");
      EXPECT_EQ(ev["targets"], "");
      json data = json::parse(ev["data"], nullptr, false);
      EXPECT_TRUE(data.is_object()) << ev["data"];
      if (!data.is_object()) continue;
      EXPECT_EQ(data.value("invoice_id", ""), invoice_id);
      found.emplace_back(ev["received_at"], data.value("decision", json()));
    }
    // Stored for audit, not queued for a second delivery.
    EXPECT_EQ(queuedJobCount(redis_), 0);
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
      return a.first.size() != b.first.size() ? a.first.size() < b.first.size() : a.first < b.first;
    });
    std::vector<json> out;
    for (auto& f : found) out.push_back(std::move(f.second));
    return out;
  }

  json storedDecision(const std::string& invoice_id = "55") {
    auto all = storedDecisions(invoice_id);
    EXPECT_EQ(all.size(), 1u) << daemon_->logs();
    return all.empty() ? json() : all.back();
  }
};

TEST_F(DecideFlowTest, AcceptedCheckAnswersCode0AndIsStoredWithItsDecision) {
  DecisionSink sink;
  sink.answer(R"({"accept": true})");
  start(sink.url());
  const std::string body = checkOrder();
  auto resp = check(body);
  ASSERT_EQ(resp.status, 200) << daemon_->logs();
  EXPECT_EQ(resp.header("content-type"), "application/xml; charset=utf-8");
  EXPECT_EQ(withoutDatetime(resp.body), checkXml(R"(code="0" invoiceId="55" shopId="13")"));

  json decision = storedDecision();
  EXPECT_EQ(decision.value("outcome", ""), "accept");
  EXPECT_EQ(decision.value("accept", false), true);
  EXPECT_EQ(decision.value("status", 0), 200);
  EXPECT_EQ(decision.value("target", ""), "shop-decisions");
  EXPECT_TRUE(decision.contains("latency_ms"));

  // What the app received: the signed envelope, verifiable with the target's secret.
  auto got = sink.received();
  ASSERT_EQ(got.size(), 1u);
  const http::Request& r = got[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/decide");
  ASSERT_NE(r.header("content-type"), nullptr);
  EXPECT_EQ(*r.header("content-type"), "application/json");
  ASSERT_NE(r.header("x-internal-token"), nullptr);
  EXPECT_EQ(*r.header("x-internal-token"), "static-token");
  ASSERT_NE(r.header("user-agent"), nullptr);
  EXPECT_TRUE(r.header("user-agent")->starts_with("payhook/"));
  const std::string* wid = r.header("webhook-id");
  const std::string* wts = r.header("webhook-timestamp");
  const std::string* wsig = r.header("webhook-signature");
  ASSERT_TRUE(wid && wts && wsig);
  swh::VerifyKeys keys;
  keys.hmac.push_back(swh::decodeSecret(kTargetSecret).value());
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  EXPECT_EQ(swh::verify(keys, *wid, *wts, *wsig, r.body, now_ms), swh::VerifyResult::kOk);
  swh::VerifyKeys wrong;
  wrong.hmac.push_back(swh::decodeSecret(DaemonProcess::kDemoSecret).value());
  EXPECT_EQ(swh::verify(wrong, *wid, *wts, *wsig, r.body, now_ms), swh::VerifyResult::kBadSignature);

  json envelope = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(envelope.is_object()) << r.body;
  EXPECT_EQ(envelope["id"], *wid);
  EXPECT_EQ(envelope["type"], "yoomoney.check_order");
  EXPECT_EQ(envelope["route"], "shop");
  EXPECT_EQ(envelope["provider"], "yoomoney");
  EXPECT_EQ(envelope["attempt"], 1);
  EXPECT_EQ(envelope["verified"], true);
  EXPECT_EQ(envelope["data"]["invoice_id"], "55");
  EXPECT_EQ(envelope["data"]["order_sum_amount"], "87.10");
  EXPECT_FALSE(envelope["data"].contains("decision"));
  EXPECT_EQ(envelope["raw"]["method"], "POST");
  EXPECT_EQ(envelope["raw"]["path"], "/yoomoney/check");
  EXPECT_EQ(envelope["raw"]["content_type"], "application/x-www-form-urlencoded");
  EXPECT_EQ(envelope["raw"]["body"],
            std::regex_replace(body, std::regex("md5=[^&]*"),
                               "md5="));  // md5 blanked: it exposes the password to guessing
  // The stored event is the one the app was asked about.
  EXPECT_EQ(redis_.command({"GET", "{payhook}:idem:shop:checkOrder:55"}).str, *wid);
}

TEST_F(DecideFlowTest, RefusedCheckAnswersCode100WithTheShopsMessage) {
  DecisionSink sink;
  sink.answer(R"({"accept": false, "code": 7, "message": "out of stock"})");
  start(sink.url());
  auto resp = check(checkOrder());
  ASSERT_EQ(resp.status, 200) << daemon_->logs();
  EXPECT_EQ(withoutDatetime(resp.body),
            checkXml(R"(code="100" invoiceId="55" shopId="13" message="out of stock")"));
  json decision = storedDecision();
  EXPECT_EQ(decision.value("outcome", ""), "refuse");
  EXPECT_EQ(decision.value("accept", true), false);
  EXPECT_EQ(decision.value("code", 0), 7);
  EXPECT_EQ(decision.value("message", ""), "out of stock");
}

TEST_F(DecideFlowTest, AnAnswerThatIsNotADecisionRefuses) {
  DecisionSink sink;
  sink.answer(R"({"ok": true})");
  start(sink.url());
  auto resp = check(checkOrder());
  ASSERT_EQ(resp.status, 200) << daemon_->logs();
  EXPECT_NE(withoutDatetime(resp.body).find(R"(code="100" invoiceId="55" shopId="13")"), std::string::npos)
      << resp.body;
  json decision = storedDecision();
  EXPECT_EQ(decision.value("outcome", ""), "failed");
  EXPECT_NE(decision.value("message", "").find("accept"), std::string::npos);
}

TEST_F(DecideFlowTest, ASinkSlowerThanDecisionTimeoutRefuses) {
  DecisionSink sink;
  sink.hold();
  start(sink.url(), "500ms");
  auto resp = check(checkOrder());
  ASSERT_EQ(resp.status, 200) << daemon_->logs();
  EXPECT_EQ(withoutDatetime(resp.body), checkXml(R"(code="100" invoiceId="55" shopId="13" )"
                                                 R"(message="the shop did not confirm the order in time")"));
  json decision = storedDecision();
  EXPECT_EQ(decision.value("outcome", ""), "failed");
  EXPECT_EQ(decision.value("status", -1), 0);
  EXPECT_NE(decision.value("message", "").find("timed out"), std::string::npos) << decision.dump();
  EXPECT_EQ(sink.received().size(), 1u);
}

TEST_F(DecideFlowTest, ASinkThatIsDownRefuses) {
  start("http://127.0.0.1:" + std::to_string(freeTcpPort()) + "/decide");
  auto resp = check(checkOrder());
  ASSERT_EQ(resp.status, 200) << daemon_->logs();
  EXPECT_NE(withoutDatetime(resp.body).find(R"(code="100" invoiceId="55" shopId="13")"), std::string::npos)
      << resp.body;
  json decision = storedDecision();
  EXPECT_EQ(decision.value("outcome", ""), "failed");
  EXPECT_EQ(decision.value("status", -1), 0);
}

TEST_F(DecideFlowTest, ARepeatedCheckIsAnsweredFromTheStoredDecisionWithoutAskingAgain) {
  DecisionSink sink;
  sink.answer(R"({"accept": false, "code": 1, "message": "sold out"})");
  start(sink.url());
  const std::string body = checkOrder("77");
  auto first = check(body);
  ASSERT_EQ(first.status, 200) << daemon_->logs();
  const std::string refused = checkXml(R"(code="100" invoiceId="77" shopId="13" message="sold out")");
  EXPECT_EQ(withoutDatetime(first.body), refused);
  // The provider's retry, or the same check replayed by someone who captured it (its md5 covers neither
  // requestDatetime nor the shop's own fields): the answer YooMoney acted on, and the shop is not asked
  // again.
  sink.answer(R"({"accept": true})");
  auto fields = yoomoney::request("checkOrder", "77");
  yoomoney::set(&fields, "requestDatetime", "2031-01-01T00:00:00.000+03:00");
  yoomoney::set(&fields, "note", std::string(2000, 'x'));
  for (const auto& repeat : {body, yoomoney::formBody(fields)}) {
    auto again = check(repeat);
    ASSERT_EQ(again.status, 200) << daemon_->logs();
    EXPECT_EQ(withoutDatetime(again.body), refused);
  }
  EXPECT_EQ(sink.received().size(), 1u);
  auto decisions = storedDecisions("77");
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].value("outcome", ""), "refuse");
  EXPECT_EQ(decisions[0].value("message", ""), "sold out");
  EXPECT_NE(daemon_->logs().find("check repeated, answered from the stored decision"), std::string::npos);
}

TEST_F(DecideFlowTest, AnAcceptedCheckRepeatedIsAcceptedAgainWithoutAsking) {
  DecisionSink sink;
  sink.answer(R"({"accept": true})");
  start(sink.url());
  for (int i = 0; i < 3; ++i) {
    auto resp = check(checkOrder("78"));
    ASSERT_EQ(resp.status, 200) << daemon_->logs();
    EXPECT_EQ(withoutDatetime(resp.body), checkXml(R"(code="0" invoiceId="78" shopId="13")"));
  }
  EXPECT_EQ(sink.received().size(), 1u);
  EXPECT_EQ(storedDecision("78").value("outcome", ""), "accept");
}

TEST_F(DecideFlowTest, RedisDownAnswers503AndAsksNobody) {
  DecisionSink sink;
  start(sink.url());
  redis_.kill();
  ASSERT_TRUE(daemon_->waitReady(503, 15'000)) << daemon_->logs();
  auto resp = check(checkOrder());
  EXPECT_EQ(resp.status, 503) << daemon_->logs();
  EXPECT_EQ(resp.header("retry-after"), "5");
  EXPECT_TRUE(sink.received().empty());
}

TEST_F(DecideFlowTest, RedisLostWhileTheShopDecidesAnswers503) {
  DecisionSink sink;
  sink.hold();  // the decision never comes in time; meanwhile Redis goes away
  start(sink.url(), "2s");
  auto pending = std::async(std::launch::async, [&] { return check(checkOrder()); });
  for (int i = 0; i < 500 && sink.received().empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(sink.received().size(), 1u) << daemon_->logs();
  redis_.kill();
  auto resp = pending.get();
  EXPECT_EQ(resp.status, 503) << daemon_->logs();
  EXPECT_EQ(resp.header("retry-after"), "5");
}

// min_replicas = 1 and no replica yet: the shop's acceptance is stored but no replica confirms it, so
// YooMoney is told to retry rather than told "accepted"; once a replica holds it, the retry is answered
// from the stored decision, without asking the shop again.
TEST_F(DecideFlowTest, AnAcceptanceNoReplicaConfirmedAnswers503ThenTheRetryCode0) {
  DecisionSink sink;
  sink.answer(R"({"accept": true})");
  start(sink.url(), "5s", "min_replicas = 1\nreplica_timeout = \"200ms\"\n");
  ASSERT_TRUE(daemon_->waitReady(503, 5'000)) << daemon_->logs();
  auto resp = check(checkOrder());
  EXPECT_EQ(resp.status, 503) << daemon_->logs();
  EXPECT_EQ(resp.header("retry-after"), "5");
  EXPECT_EQ(sink.received().size(), 1u);
  EXPECT_EQ(storedDecision().value("outcome", ""), "accept");

  RedisServer::Options replica_options;
  replica_options.extra_config = {"replicaof 127.0.0.1 " + std::to_string(redis_.port())};
  RedisServer replica(replica_options);
  ASSERT_TRUE(daemon_->waitReady(200, 10'000)) << daemon_->logs();
  resp = check(checkOrder());
  ASSERT_EQ(resp.status, 200) << daemon_->logs();
  EXPECT_EQ(withoutDatetime(resp.body), checkXml(R"(code="0" invoiceId="55" shopId="13")"));
  EXPECT_EQ(sink.received().size(), 1u) << "the shop was asked twice";
}

TEST_F(DecideFlowTest, AGracefulStopWaitsForTheDecisionInFlight) {
  DecisionSink sink;
  sink.hold();
  start(sink.url(), "1s");
  auto pending = std::async(std::launch::async, [&] { return check(checkOrder()); });
  for (int i = 0; i < 500 && sink.received().empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(sink.received().size(), 1u) << daemon_->logs();
  EXPECT_EQ(daemon_->stop(SIGTERM), 0) << daemon_->logs();
  auto resp = pending.get();
  ASSERT_EQ(resp.status, 200) << daemon_->logs();
  EXPECT_NE(withoutDatetime(resp.body).find(R"(code="100" invoiceId="55" shopId="13")"), std::string::npos);
  EXPECT_EQ(storedDecision().value("outcome", ""), "failed");
  daemon_.reset();
}

}  // namespace
}  // namespace payhook::testing

namespace payhook::testing {
namespace {

// YooMoney should never send an aviso for an invoice the shop refused at checkOrder; when it does, the payer
// was charged all the same, and the app must be told so instead of seeing an ordinary payment.
class CheckThenAvisoTest : public DecideFlowTest {
 protected:
  HttpResponse aviso(const std::string& invoice_id) {
    return httpRequest(daemon_->address(), "POST", "/yoomoney/aviso",
                       {{"content-type", "application/x-www-form-urlencoded"}},
                       yoomoney::formBody(yoomoney::request("paymentAviso", invoice_id)));
  }
  json avisoData(const std::string& invoice_id) {
    auto ev = storedEvent(redis_, "shop", "paymentAviso:" + invoice_id);
    EXPECT_FALSE(ev.empty()) << daemon_->logs();
    return json::parse(ev["data"], nullptr, false);
  }
};

TEST_F(CheckThenAvisoTest, AnAvisoAfterARefusedCheckCarriesTheWarning) {
  DecisionSink sink;
  sink.answer(R"({"accept": false, "code": 7, "message": "out of stock"})");
  start(sink.url());
  ASSERT_NE(check(checkOrder("501")).body.find(R"(code="100")"), std::string::npos);
  auto resp = aviso("501");
  ASSERT_EQ(resp.status, 200);
  EXPECT_NE(resp.body.find(R"(code="0")"), std::string::npos) << resp.body;  // acknowledged: it was paid
  json data = avisoData("501");
  EXPECT_EQ(data["payment"]["outcome"], "succeeded");
  EXPECT_EQ(data["payment"]["warnings"], json::array({"check_refused"}));
  EXPECT_EQ(data["check_order"]["decision"], "refuse");
  const std::string check_id = data["check_order"]["event_id"];
  EXPECT_EQ(redis_.command({"GET", "{payhook}:idem:shop:checkOrder:501"}).str, check_id);
  EXPECT_NE(daemon_->logs().find("aviso for an invoice the shop refused at checkOrder"), std::string::npos);
}

TEST_F(CheckThenAvisoTest, AnAvisoAfterAnAcceptedCheckIsAnOrdinaryPayment) {
  DecisionSink sink;
  sink.answer(R"({"accept": true})");
  start(sink.url());
  ASSERT_NE(check(checkOrder("502")).body.find(R"(code="0")"), std::string::npos);
  ASSERT_EQ(aviso("502").status, 200);
  json data = avisoData("502");
  EXPECT_EQ(data["payment"]["warnings"], json::array());
  EXPECT_FALSE(data.contains("check_order"));
  // An aviso with no check before it has no note either.
  ASSERT_EQ(aviso("503").status, 200);
  EXPECT_FALSE(avisoData("503").contains("check_order"));
  EXPECT_EQ(daemon_->logs().find("refused at checkOrder"), std::string::npos);
}

}  // namespace
}  // namespace payhook::testing
