// YooKassa's notifications through the real payhookd, a real redis-server and a fake YooKassa API on
// loopback: stored and answered 200 at once, re-checked through the API with the shop's credentials before
// anything is forwarded, forwarded signed with the API's object, never forwarded as a status the API
// contradicts, retried while the API is down, and refused with nothing stored when forged or malformed.
#include <gtest/gtest.h>
#include <sodium.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/webhook_signature.h"
#include "http/server.h"
#include "support/daemon_fixture.h"
#include "support/daemon_process.h"
#include "support/fake_yookassa_api.h"
#include "support/http_client.h"
#include "support/loop_thread.h"
#include "support/redis_server.h"
#include "support/sink.h"
#include "support/store_inspect.h"
#include "support/wait.h"

namespace payhook::testing {
namespace {

using Json = nlohmann::json;

constexpr const char* kShopId = "506751";
constexpr const char* kSecretKey = "test_Fh8hUAVVBGUGbjmlzba6TB0iyUbos_lueTHE-axOwM0";
// "Basic " + base64("506751:" + kSecretKey).
constexpr const char* kAuthorization =
    "Basic NTA2NzUxOnRlc3RfRmg4aFVBVlZCR1VHYmptbHpiYTZUQjBpeVVib3NfbHVlVEhFLWF4T3dNMA==";
constexpr const char* kPaymentId = "22e12f66-000f-5000-8000-18db351245c7";

std::string paymentObject(const std::string& status, const std::string& value = "100.00") {
  return R"({"id":")" + std::string(kPaymentId) + R"(","status":")" + status + R"(","paid":true,)" +
         R"("amount":{"value":")" + value +
         R"(","currency":"RUB"},"metadata":{"order_id":"37"},"test":true})";
}

std::string notification(const std::string& event, const std::string& object) {
  return R"({"type":"notification","event":")" + event + R"(","object":)" + object + "}";
}

class YooKassaTest : public DaemonFixture {
 protected:
  static void SetUpTestSuite() { ASSERT_GE(sodium_init(), 0); }
  void SetUp() override {
    DaemonOptions o;
    // As behind nginx on the same host: the X-Forwarded-For of 127.0.0.1 names the client.
    o.extra_server = R"(trusted_proxies = ["127.0.0.1/32"])";
    o.targets = R"(
[[targets]]
name = "orders"
url = ")" + sink_.url() +
                R"("
secret_file = "secrets/orders.whsec"
timeout = "5s"
)";
    o.routes = R"(
[[routes]]
name = "yk"
provider = "yookassa"
path = "/yookassa"
shop_id = ")" + std::string(kShopId) +
               R"("
secret_key_file = "secrets/yookassa.key"
api_base = ")" +
               api_.base() +
               R"("
allow_ips = ["127.0.0.1/32"]
forward = ["orders"]
retry = { schedule = ["200ms", "200ms", "200ms", "200ms"], jitter = 0.0 }

[[routes]]
name = "yk-default"
provider = "yookassa"
path = "/yk-default"
shop_id = ")" + std::string(kShopId) +
               R"("
secret_key_file = "secrets/yookassa.key"
api_base = ")" +
               api_.base() +
               R"("
forward = ["orders"]
)";
    createDaemon(o);
    writeSecret("yookassa.key", std::string(kSecretKey) + "\n");
    startDaemon();
  }
  void TearDown() override {
    DaemonFixture::TearDown();
    if (daemon_) {
      EXPECT_EQ(daemon_->logs().find(kSecretKey), std::string::npos);
      EXPECT_EQ(daemon_->logs().find(std::string(kAuthorization).substr(6)), std::string::npos);
    }
    // The API was only ever asked with the shop's own credentials.
    for (const auto& r : api_.requests()) {
      ASSERT_TRUE(r.header("authorization"));
      EXPECT_EQ(*r.header("authorization"), kAuthorization);
    }
  }

  HttpResponse notify(const std::string& body, const char* path = "/yookassa",
                      const std::string& forwarded = "") {
    std::vector<std::pair<std::string, std::string>> headers = {{"content-type", "application/json"}};
    if (!forwarded.empty()) headers.push_back({"x-forwarded-for", forwarded});
    return httpRequest(daemon_->address(), "POST", path, headers, body);
  }
  std::string paymentPath() const { return std::string("/v3/payments/") + kPaymentId; }

  FakeYooKassaApi api_{kAuthorization};
  Sink sink_{{200}};
};

TEST_F(YooKassaTest, ConfirmedByTheApiIsDeliveredSignedWithTheApisObject) {
  // The API knows a larger amount than the notification claims: the app gets the API's.
  api_.set(paymentPath(), paymentObject("succeeded", "250.00"));
  auto r = notify(notification("payment.succeeded", paymentObject("succeeded")));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");

  ASSERT_TRUE(waitFor([&] { return sink_.count() >= 1; })) << daemon_->logs();
  const http::Request got = sink_.received().at(0);
  swh::VerifyKeys keys;
  keys.hmac.push_back(swh::decodeSecret("whsec_b3JkZXJzLXRhcmdldC1zZWNyZXQtMDEyMzQ1Njc=").value());
  ASSERT_TRUE(got.header("webhook-id") && got.header("webhook-timestamp") && got.header("webhook-signature"));
  EXPECT_EQ(swh::verify(keys, *got.header("webhook-id"), *got.header("webhook-timestamp"),
                        *got.header("webhook-signature"), got.body, unixNowMs()),
            swh::VerifyResult::kOk);
  const Json envelope = Json::parse(got.body);
  EXPECT_EQ(envelope["type"], "yookassa.payment.succeeded");
  EXPECT_EQ(envelope["provider"], "yookassa");
  EXPECT_EQ(envelope["route"], "yk");
  EXPECT_EQ(envelope["verified"], true);
  EXPECT_EQ(envelope["data"]["object"], Json::parse(paymentObject("succeeded", "250.00")));
  EXPECT_EQ(envelope["data"]["payment"]["amount"], "250.00");
  EXPECT_EQ(envelope["data"]["payment"]["outcome"], "succeeded");
  EXPECT_TRUE(envelope["data"]["recheck"].contains("confirmed_at"));

  const auto requests = api_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].path, paymentPath());

  const std::string key = std::string("payment.succeeded:") + kPaymentId + ":succeeded";
  ASSERT_TRUE(waitFor([&] { return storedEvent(redis_, "yk", key)["state"] == "delivered"; }))
      << daemon_->logs();
  // The stored event became what was forwarded: verified, with the API's object.
  auto ev = storedEvent(redis_, "yk", key);
  EXPECT_EQ(ev["verified"], "1");
  EXPECT_EQ(ev["status:@yk"], "delivered");
  EXPECT_EQ(ev["targets"], "@yk,orders");
  EXPECT_EQ(Json::parse(ev["data"])["object"]["amount"]["value"], "250.00");
  EXPECT_NE(ev["recheck"].find("confirmed by the API"), std::string::npos) << ev["recheck"];
}

TEST_F(YooKassaTest, ContradictedByTheApiIsRecordedAndNeverForwarded) {
  // Captured before the re-check: the notification's waiting_for_capture is no longer true.
  api_.set(paymentPath(), paymentObject("succeeded"));
  EXPECT_EQ(notify(notification("payment.waiting_for_capture", paymentObject("waiting_for_capture"))).status,
            200);
  const std::string key = std::string("payment.waiting_for_capture:") + kPaymentId + ":waiting_for_capture";
  ASSERT_TRUE(waitFor([&] { return storedEvent(redis_, "yk", key)["status:@yk"] == "refuted"; }))
      << daemon_->logs();
  auto ev = storedEvent(redis_, "yk", key);
  EXPECT_EQ(ev["state"], "stored");
  EXPECT_EQ(ev["verified"], "0");
  EXPECT_NE(ev["recheck"].find("\"succeeded\""), std::string::npos) << ev["recheck"];
  EXPECT_EQ(ev["targets"], "@yk");

  std::string out;
  ASSERT_EQ(runProgram({PAYHOOKCTL_PATH, "-c", daemon_->configPath(), "show", ev["id"]}, &out), 0) << out;
  EXPECT_NE(out.find("refuted"), std::string::npos) << out;
  EXPECT_NE(out.find("waiting_for_capture"), std::string::npos) << out;
  // Found by its order number, it shows the refutation and no outcome the notification claimed.
  out.clear();
  ASSERT_EQ(runProgram({PAYHOOKCTL_PATH, "-c", daemon_->configPath(), "find", "37", "--json"}, &out), 0)
      << out;
  EXPECT_NE(out.find("payment.waiting_for_capture (refuted)"), std::string::npos) << out;
  EXPECT_EQ(out.find("\"held\""), std::string::npos) << out;

  // A forged success of a payment that is still pending is refuted the same way.
  api_.set(paymentPath(), paymentObject("pending"));
  EXPECT_EQ(notify(notification("payment.succeeded", paymentObject("succeeded"))).status, 200);
  const std::string forged = std::string("payment.succeeded:") + kPaymentId + ":succeeded";
  ASSERT_TRUE(waitFor([&] { return storedEvent(redis_, "yk", forged)["status:@yk"] == "refuted"; }))
      << daemon_->logs();
  // Nothing reached the app, not even later.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(sink_.count(), 0u);
}

TEST_F(YooKassaTest, AnOperatorsRetryOfARefutedEventAsksTheApiAgain) {
  api_.set(paymentPath(), paymentObject("pending"));
  EXPECT_EQ(notify(notification("payment.waiting_for_capture", paymentObject("waiting_for_capture"))).status,
            200);
  const std::string key = std::string("payment.waiting_for_capture:") + kPaymentId + ":waiting_for_capture";
  ASSERT_TRUE(waitFor([&] { return storedEvent(redis_, "yk", key)["status:@yk"] == "refuted"; }))
      << daemon_->logs();
  api_.set(paymentPath(), paymentObject("waiting_for_capture"));
  std::string out;
  ASSERT_EQ(runProgram(
                {PAYHOOKCTL_PATH, "-c", daemon_->configPath(), "retry", storedEvent(redis_, "yk", key)["id"]},
                &out),
            0)
      << out;
  ASSERT_TRUE(waitFor([&] { return sink_.count() >= 1; })) << daemon_->logs();
  EXPECT_EQ(Json::parse(sink_.received().at(0).body)["type"], "yookassa.payment.waiting_for_capture");
  EXPECT_EQ(api_.requests().size(), 2u);
}

TEST_F(YooKassaTest, ApiDownThenUpIsRetriedAndDelivered) {
  api_.set(paymentPath(), paymentObject("succeeded"));
  api_.failNext(2);
  EXPECT_EQ(notify(notification("payment.succeeded", paymentObject("succeeded"))).status, 200);
  ASSERT_TRUE(waitFor([&] { return sink_.count() >= 1; }, 15'000)) << daemon_->logs();
  EXPECT_EQ(api_.requests().size(), 3u);
  auto ev = storedEvent(redis_, "yk", std::string("payment.succeeded:") + kPaymentId + ":succeeded");
  const auto records = attempts(ev["id"]);
  ASSERT_GE(records.size(), 4u);
  EXPECT_EQ(records[0]["target"], "@yk");
  EXPECT_EQ(records[0]["status"], 503);
  EXPECT_EQ(records[0]["result"], "retry");
  EXPECT_EQ(records[2]["result"], "confirmed");
  EXPECT_EQ(records[3]["target"], "orders");
  EXPECT_EQ(records[3]["result"], "delivered");
}

TEST_F(YooKassaTest, ApiNeverAnsweringIsDeadLetteredAndNothingForwarded) {
  api_.failNext(1000);
  EXPECT_EQ(notify(notification("refund.succeeded", R"({"id":"r-1","status":"succeeded","payment_id":")" +
                                                        std::string(kPaymentId) + "\"}"))
                .status,
            200);
  auto ev = [&] { return storedEvent(redis_, "yk", "refund.succeeded:r-1:succeeded"); };
  ASSERT_TRUE(waitFor([&] { return ev()["state"] == "dead"; }, 15'000)) << daemon_->logs();
  EXPECT_EQ(ev()["status:@yk"], "dead");
  EXPECT_EQ(api_.requests().size(), 5u);  // the first attempt and the schedule's four
  EXPECT_EQ(api_.requests().at(0).path, "/v3/refunds/r-1");
  EXPECT_EQ(sink_.count(), 0u);
}

TEST_F(YooKassaTest, RepeatsAreStoredAndCheckedOnce) {
  api_.set(paymentPath(), paymentObject("succeeded"));
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(notify(notification("payment.succeeded", paymentObject("succeeded"))).status, 200);
  ASSERT_TRUE(waitFor([&] { return sink_.count() >= 1; })) << daemon_->logs();
  EXPECT_EQ(notify(notification("payment.succeeded", paymentObject("succeeded"))).status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 1u);
  EXPECT_EQ(api_.requests().size(), 1u);
  EXPECT_EQ(sink_.count(), 1u);
}

TEST_F(YooKassaTest, YooKassasNetworksAreTheDefaultBehindATrustedProxy) {
  api_.set(paymentPath(), paymentObject("succeeded"));
  const std::string body = notification("payment.succeeded", paymentObject("succeeded"));
  EXPECT_EQ(notify(body, "/yk-default", "8.8.8.8").status, 403);
  // A client's own X-Forwarded-For entry in front of the proxy's does not make it YooKassa.
  EXPECT_EQ(notify(body, "/yk-default", "185.71.76.5, 8.8.8.8").status, 403);
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 0u);
  EXPECT_EQ(notify(body, "/yk-default", "185.71.76.5").status, 200);
  EXPECT_EQ(notify(body, "/yk-default", "2a02:5180:0:1509::17").status, 200);
  ASSERT_TRUE(waitFor([&] { return sink_.count() >= 1; })) << daemon_->logs();
  EXPECT_EQ(Json::parse(sink_.received().at(0).body)["route"], "yk-default");
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 1u);
}

TEST_F(YooKassaTest, ForgedMalformedAndForeignStoreNothing) {
  // 127.0.0.1 is none of YooKassa's networks, the default list of a route without allow_ips.
  auto r = notify(notification("payment.succeeded", paymentObject("succeeded")), "/yk-default");
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(daemon_->logs().find("source address not allowed"), std::string::npos);
  EXPECT_EQ(notify("not json").status, 400);
  EXPECT_EQ(
      notify(R"({"type":"notice","event":"payment.succeeded","object":)" + paymentObject("succeeded") + "}")
          .status,
      400);
  EXPECT_EQ(notify(notification("payment.succeeded", R"({"status":"succeeded"})")).status, 400);
  EXPECT_EQ(notify(notification("payment.succeeded", paymentObject("pending"))).status, 400);
  expectNothingStored();
  EXPECT_TRUE(api_.requests().empty());
  EXPECT_EQ(httpRequest(daemon_->address(), "GET", "/yookassa").status, 405);
}

}  // namespace
}  // namespace payhook::testing
