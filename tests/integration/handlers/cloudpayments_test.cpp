// CloudPayments through the real payhookd and a real redis-server: the SDK spec's signed Pay body stored,
// answered {"code":0} and delivered signed to a local app; forged and tampered bodies refused with nothing
// stored; repeats stored once; Check answered from a local decision app, or 13 when it is down or slow.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/webhook_signature.h"
#include "handlers/cloudpayments/cloudpayments.h"
#include "support/daemon_fixture.h"
#include "support/daemon_process.h"
#include "support/decision_sink.h"
#include "support/http_client.h"
#include "support/redis_server.h"
#include "support/sink.h"
#include "support/store_inspect.h"
#include "support/wait.h"

namespace payhook::testing {
namespace {

using nlohmann::json;

constexpr const char* kSecret = "pass";  // the SDK spec's API secret
constexpr const char* kVectorHmac = "tJW02TMAce4Em8eJTNqjhOax+BYRM5K2D8mX9xsmUUc=";
constexpr const char* kOrdersSecret = "whsec_b3JkZXJzLXRhcmdldC1zZWNyZXQtMDEyMzQ1Njc=";  // DaemonProcess's

std::string vectorBody() {
  std::ifstream f(std::string(PAYHOOK_SOURCE_DIR) + "/tests/fixtures/cloudpayments/pay_undr.form",
                  std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

std::string hmacOf(const std::string& body) {
  return handlers::cloudpayments::hmacBase64(Secret(std::string(kSecret)), body);
}

class CloudPaymentsTest : public DaemonFixture {
 protected:
  void start(const std::string& decision_url, const std::string& decision_timeout = "5s") {
    DaemonOptions o;
    o.targets = R"(
[[targets]]
name = "orders"
url = ")" + orders_.url() +
                R"("
secret_file = "secrets/orders.whsec"

[[targets]]
name = "shop-decisions"
url = ")" + decision_url +
                R"("
secret_file = "secrets/orders.whsec"
)";
    o.routes = R"(
[[routes]]
name = "cp"
provider = "cloudpayments"
path = "/cloudpayments"
api_secret_file = "secrets/cloudpayments.secret"
decision = "shop-decisions"
decision_timeout = ")" +
               decision_timeout + R"("
forward = ["orders"]
)";
    createDaemon(o);
    writeSecret("cloudpayments.secret", std::string(kSecret) + "\n");
    startDaemon();
  }

  void TearDown() override {
    if (daemon_) {
      const std::string logs = daemon_->logs();
      EXPECT_EQ(logs.find(kOrdersSecret), std::string::npos) << "the target secret reached the log";
    }
    DaemonFixture::TearDown();
  }

  HttpResponse post(const std::string& type, const std::string& body, const std::string& mac,
                    const std::string& header = "content-hmac") {
    std::vector<std::pair<std::string, std::string>> headers = {
        {"content-type", "application/x-www-form-urlencoded"}};
    if (!mac.empty()) headers.emplace_back(header, mac);
    return httpRequest(daemon_->address(), "POST", "/cloudpayments/" + type, headers, body);
  }

  Sink orders_{{200}};
};

// A decision app that is never asked: Pay and the other notifications need none.
constexpr const char* kNoDecisionApp = "http://127.0.0.1:9/decide";

TEST_F(CloudPaymentsTest, SignedPayIsStoredAnsweredCode0AndDeliveredSigned) {
  start(kNoDecisionApp);
  const std::string body = vectorBody();
  auto resp = post("pay", body, kVectorHmac);
  ASSERT_EQ(resp.status, 200) << daemon_->logs();
  EXPECT_EQ(resp.header("content-type"), "application/json");
  EXPECT_EQ(resp.body, R"({"code":0})");

  auto id = redis_.command({"GET", "{payhook}:idem:cp:pay:666"});
  ASSERT_EQ(id.type, RedisReply::kString) << daemon_->logs();
  auto ev = eventHash(redis_, "{payhook}:ev:" + id.str);
  EXPECT_EQ(ev["type"], "cloudpayments.pay");
  EXPECT_EQ(ev["provider"], "cloudpayments");
  EXPECT_EQ(ev["raw_body"], body);
  // Found by the order number, the transaction and the account.
  for (const std::string key : {"1234567", "666", "user@example.com"})
    EXPECT_EQ(redis_.command({"ZSCORE", "{payhook}:find", key + "\n" + id.str}).str, "0") << key;

  ASSERT_TRUE(waitFor([&] { return orders_.count() >= 1; })) << daemon_->logs();
  const http::Request got = orders_.received().at(0);
  const std::string* wid = got.header("webhook-id");
  const std::string* wts = got.header("webhook-timestamp");
  const std::string* wsig = got.header("webhook-signature");
  ASSERT_TRUE(wid && wts && wsig);
  EXPECT_EQ(*wid, id.str);
  swh::VerifyKeys keys;
  keys.hmac.push_back(swh::decodeSecret(kOrdersSecret).value());
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  EXPECT_EQ(swh::verify(keys, *wid, *wts, *wsig, got.body, now_ms), swh::VerifyResult::kOk);
  const json envelope = json::parse(got.body);
  EXPECT_EQ(envelope["type"], "cloudpayments.pay");
  EXPECT_EQ(envelope["route"], "cp");
  EXPECT_EQ(envelope["provider"], "cloudpayments");
  EXPECT_EQ(envelope["verified"], true);
  EXPECT_EQ(envelope["data"]["transaction_id"], "666");
  EXPECT_EQ(envelope["data"]["ip_city"], "Санкт-Петербург");
  EXPECT_EQ(envelope["data"]["payment"]["outcome"], "succeeded");
  EXPECT_EQ(envelope["data"]["payment"]["amount"], "123.00");
  EXPECT_EQ(envelope["data"]["payment"]["currency"], "RUB");
  EXPECT_EQ(envelope["data"]["payment"]["test"], true);
  EXPECT_EQ(envelope["raw"]["path"], "/cloudpayments/pay");
  EXPECT_EQ(envelope["raw"]["body"], body);
}

TEST_F(CloudPaymentsTest, RepeatsAreStoredOnceAndAllAnsweredCode0) {
  start(kNoDecisionApp);
  const std::string body = vectorBody();
  for (int i = 0; i < 3; ++i) {
    auto resp = post("pay", body, kVectorHmac);
    ASSERT_EQ(resp.status, 200) << "attempt " << i << "\n" << daemon_->logs();
    EXPECT_EQ(resp.body, R"({"code":0})");
  }
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 1u);
  EXPECT_EQ(countKeys(redis_, "{payhook}:idem:*"), 1u);
  // The same transaction's Confirm is another event.
  const std::string confirm =
      "TransactionId=666&Amount=123.00&Currency=RUB&InvoiceId=1234567&Status=Completed";
  ASSERT_EQ(post("confirm", confirm, hmacOf(confirm)).status, 200);
  ASSERT_EQ(post("confirm", confirm, hmacOf(confirm)).status, 200);
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 2u);
}

TEST_F(CloudPaymentsTest, ForgedAndTamperedAreRefusedAndNothingIsStored) {
  start(kNoDecisionApp);
  std::string body = vectorBody();
  auto forged = post("pay", body, "6sUXv4W0wmhfpkkDtp+3Hw/M8deAPkMRVV3OWANcqro=");
  EXPECT_EQ(forged.status, 403);
  EXPECT_EQ(forged.body, R"({"code":13})");
  EXPECT_EQ(post("pay", body, "").status, 403);
  body[body.find("Amount=123") + 7] = '9';
  EXPECT_EQ(post("pay", body, kVectorHmac).status, 403);
  // A Check the shop is never asked about.
  EXPECT_EQ(post("check", body, kVectorHmac).status, 403);
  expectNothingStored();
  EXPECT_NE(daemon_->logs().find("Content-HMAC does not match the body"), std::string::npos);
  EXPECT_EQ(orders_.count(), 0u);
}

TEST_F(CloudPaymentsTest, CheckIsAnsweredFromTheDecisionAppAndStoredForAuditOnly) {
  DecisionSink shop;
  shop.answer(R"({"accept": true})");
  start(shop.url());
  const std::string check = "TransactionId=900&Amount=10.00&Currency=RUB&InvoiceId=42&AccountId=u1";
  auto resp = post("check", check, hmacOf(check));
  ASSERT_EQ(resp.status, 200) << daemon_->logs();
  EXPECT_EQ(resp.header("content-type"), "application/json");
  EXPECT_EQ(resp.body, R"({"code":0})");
  ASSERT_EQ(shop.received().size(), 1u);
  const json question = json::parse(shop.received()[0].body);
  EXPECT_EQ(question["type"], "cloudpayments.check");
  EXPECT_EQ(question["data"]["invoice_id"], "42");
  EXPECT_EQ(question["data"]["payment"]["outcome"], "pending");

  auto id = redis_.command({"GET", "{payhook}:idem:cp:check:900"});
  ASSERT_EQ(id.type, RedisReply::kString) << daemon_->logs();
  auto ev = eventHash(redis_, "{payhook}:ev:" + id.str);
  EXPECT_EQ(ev["targets"], "");
  EXPECT_EQ(json::parse(ev["data"])["decision"]["outcome"], "accept");
  EXPECT_EQ(queuedJobCount(redis_), 0);
  // CloudPayments' retry is answered from the stored decision; the shop is not asked again.
  shop.answer(R"({"accept": false, "code": 10})");
  EXPECT_EQ(post("check", check, hmacOf(check)).body, R"({"code":0})");
  EXPECT_EQ(shop.received().size(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(orders_.count(), 0u);
}

TEST_F(CloudPaymentsTest, CheckRefusalsCarryTheShopsCodeOr13) {
  DecisionSink shop;
  start(shop.url());
  const std::pair<std::string, std::string> cases[] = {
      {R"({"accept": false, "code": 10, "message": "no such order"})", R"({"code":10})"},
      {R"({"accept": false, "code": 11})", R"({"code":11})"},
      {R"({"accept": false, "code": 12})", R"({"code":12})"},
      {R"({"accept": false, "code": 20})", R"({"code":20})"},
      {R"({"accept": false, "code": 7})", R"({"code":13})"},
      {R"({"pending": true})", R"({"code":13})"},
      {R"({"ok": true})", R"({"code":13})"},
  };
  int n = 0;
  for (const auto& [answer, expected] : cases) {
    shop.answer(answer);
    const std::string check = "TransactionId=" + std::to_string(1000 + n++) + "&Amount=1.00&Currency=RUB";
    auto resp = post("check", check, hmacOf(check));
    ASSERT_EQ(resp.status, 200) << daemon_->logs();
    EXPECT_EQ(resp.body, expected) << answer;
  }
}

TEST_F(CloudPaymentsTest, CheckWithTheShopDownOrSlowIs13) {
  DecisionSink shop;
  shop.hold();
  start(shop.url(), "300ms");
  const std::string check = "TransactionId=901&Amount=1.00&Currency=RUB";
  auto resp = post("check", check, hmacOf(check));
  ASSERT_EQ(resp.status, 200) << daemon_->logs();
  EXPECT_EQ(resp.body, R"({"code":13})");
  auto id = redis_.command({"GET", "{payhook}:idem:cp:check:901"});
  ASSERT_EQ(id.type, RedisReply::kString) << daemon_->logs();
  EXPECT_EQ(json::parse(eventHash(redis_, "{payhook}:ev:" + id.str)["data"])["decision"]["outcome"],
            "failed");
}

TEST_F(CloudPaymentsTest, CheckWithTheShopUnreachableIs13) {
  start("http://127.0.0.1:" + std::to_string(freeTcpPort()) + "/decide");
  const std::string check = "TransactionId=902&Amount=1.00&Currency=RUB";
  auto resp = post("check", check, hmacOf(check));
  ASSERT_EQ(resp.status, 200) << daemon_->logs();
  EXPECT_EQ(resp.body, R"({"code":13})");
}

TEST_F(CloudPaymentsTest, APayAfterARefusedCheckIsDeliveredWithAWarning) {
  DecisionSink shop;
  shop.answer(R"({"accept": false, "code": 12})");
  start(shop.url());
  const std::string check = "TransactionId=903&Amount=1.00&Currency=RUB&InvoiceId=5";
  ASSERT_EQ(post("check", check, hmacOf(check)).body, R"({"code":12})");
  const std::string pay = check + "&Status=Completed";
  ASSERT_EQ(post("pay", pay, hmacOf(pay)).body, R"({"code":0})") << daemon_->logs();
  ASSERT_TRUE(waitFor([&] { return orders_.count() >= 1; })) << daemon_->logs();
  const json envelope = json::parse(orders_.received().at(0).body);
  EXPECT_EQ(envelope["type"], "cloudpayments.pay");
  EXPECT_EQ(envelope["data"]["check"]["decision"], "refuse");
  EXPECT_EQ(envelope["data"]["payment"]["warnings"], json::parse(R"(["check_refused"])"));
}

TEST_F(CloudPaymentsTest, XContentHmacAloneIsAccepted) {
  start(kNoDecisionApp);
  const std::string body = "TransactionId=904&Amount=1.00&Currency=RUB&AccountId=user%40example.com";
  const std::string decoded = "TransactionId=904&Amount=1.00&Currency=RUB&AccountId=user@example.com";
  auto resp = post("pay", body, hmacOf(decoded), "x-content-hmac");
  ASSERT_EQ(resp.status, 200) << daemon_->logs();
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 1u);
}

}  // namespace
}  // namespace payhook::testing
