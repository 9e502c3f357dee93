// Expected YooKassa payments end to end: the real payhookd and redis-server, a fake YooKassa API (the
// notification's re-check and the status requests, both GET /v3/payments/{id}) and the shop's app (Sink).
// A payment registered as expected is closed exactly once: by its notification once the API confirms it (the
// re-check the only API request; a refuted one settles nothing), by reconciliation after its deadline (one
// yookassa.payment_status event, "source": "reconciliation"), never twice when the notification comes late,
// and through an API that is down a while.
#include <gtest/gtest.h>
#include <sodium.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/config_toml.h"
#include "support/daemon_fixture.h"
#include "support/daemon_process.h"
#include "support/fake_yookassa_api.h"
#include "support/http_client.h"
#include "support/sink.h"
#include "support/store_inspect.h"
#include "support/wait.h"

namespace payhook::testing {
namespace {

using nlohmann::json;

constexpr const char* kAdminToken = "admin-token-Exp3cted-Yk";
constexpr const char* kShopId = "506751";
constexpr const char* kSecretKey = "test_Fh8hUAVVBGUGbjmlzba6TB0iyUbos_lueTHE-axOwM0";
// "Basic " + base64("506751:" + kSecretKey).
constexpr const char* kAuthorization =
    "Basic NTA2NzUxOnRlc3RfRmg4aFVBVlZCR1VHYmptbHpiYTZUQjBpeVVib3NfbHVlVEhFLWF4T3dNMA==";

std::string paymentObject(const std::string& id, const std::string& status) {
  return R"({"id":")" + id + R"(","status":")" + status + R"(","paid":true,)" +
         R"("amount":{"value":"100.50","currency":"RUB"},"metadata":{"order_id":"37"},"test":true})";
}

class ExpectedYooKassaTest : public DaemonFixture {
 protected:
  static void SetUpTestSuite() { ASSERT_GE(sodium_init(), 0); }

  void SetUp() override {
    DaemonOptions o;
    o.extra_admin = "token_file = \"secrets/admin.token\"\n";
    o.targets = targetToml("orders", sink_.url());
    o.delivery = "lease_timeout = \"8s\"\nsweep_interval = \"1s\"\n";
    o.routes = R"(
[[routes]]
name = "yk"
provider = "yookassa"
path = "/yookassa"
shop_id = ")" + std::string(kShopId) +
               R"("
secret_key_file = "secrets/yookassa.key"
api_base = ")" +
               api_.base() + R"("
allow_ips = ["127.0.0.1/32"]
forward = ["orders"]
poll_rate = 20
retry = { schedule = ["300ms", "300ms", "300ms", "300ms", "300ms", "300ms"], jitter = 0.0, max_age = "1m" }
)";
    createDaemon(o);
    writeSecret("yookassa.key", std::string(kSecretKey) + "\n");
    writeSecret("admin.token", std::string(kAdminToken) + "\n");
    startDaemon();
  }

  void TearDown() override {
    if (daemon_) {
      EXPECT_EQ(daemon_->logs().find(kSecretKey), std::string::npos) << "the secret key reached the log";
      EXPECT_EQ(daemon_->logs().find(std::string(kAuthorization).substr(6)), std::string::npos);
    }
    for (const auto& r : api_.requests()) {
      EXPECT_EQ(r.method, "GET");
      ASSERT_TRUE(r.header("authorization"));
      EXPECT_EQ(*r.header("authorization"), kAuthorization);
    }
    DaemonFixture::TearDown();
  }

  HttpResponse admin(const std::string& method, const std::string& target, const std::string& body = {}) {
    std::vector<std::pair<std::string, std::string>> headers{
        {"authorization", std::string("Bearer ") + kAdminToken}};
    if (!body.empty()) headers.emplace_back("content-type", "application/json");
    return httpRequest(daemon_->adminAddress(), method, target, headers, body);
  }

  void expect(const std::string& id, const std::string& deadline) {
    auto r = admin("POST", "/v1/expected",
                   json{{"route", "yk"}, {"order", id}, {"amount", "100.50"}, {"deadline", deadline}}.dump());
    ASSERT_EQ(r.status, 201) << r.body;
  }

  HttpResponse notify(const std::string& id, const std::string& status) {
    const std::string body = R"({"type":"notification","event":"payment.)" + status + R"(","object":)" +
                             paymentObject(id, status) + "}";
    return httpRequest(daemon_->address(), "POST", "/yookassa", {{"content-type", "application/json"}}, body);
  }

  // The envelopes the app received about payment `id`.
  std::vector<json> eventsFor(const std::string& id) {
    std::vector<json> out;
    for (const auto& r : sink_.received()) {
      json e = json::parse(r.body, nullptr, false);
      if (!e.is_discarded() && e["data"].value("id", "") == id) out.push_back(e);
    }
    return out;
  }

  std::map<std::string, std::string> expectation(const std::string& id) {
    return eventHash(redis_, "{payhook}:exp:yk:" + id);
  }

  static std::string path(const std::string& id) { return "/v3/payments/" + id; }

  FakeYooKassaApi api_{kAuthorization};
  Sink sink_{200};
};

constexpr const char* kIdA = "2f0a0001-000f-5000-8000-18db351245c7";
constexpr const char* kIdB = "2f0a0002-000f-5000-8000-18db351245c7";
constexpr const char* kIdC = "2f0a0003-000f-5000-8000-18db351245c7";

// (a) The notification comes in time: its re-check's confirmation closes the expectation; the API is asked
// once, by that re-check, and never by reconciliation.
TEST_F(ExpectedYooKassaTest, ANotificationInTimeClosesItWithoutAnyStatusRequest) {
  api_.set(path(kIdA), paymentObject(kIdA, "succeeded"));
  expect(kIdA, "1s");
  auto r = notify(kIdA, "succeeded");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(waitFor([&] { return eventsFor(kIdA).size() == 1; })) << daemon_->logs();
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));  // past the deadline
  EXPECT_EQ(api_.requests(path(kIdA)), 1);
  auto events = eventsFor(kIdA);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "yookassa.payment.succeeded");
  EXPECT_EQ(events[0]["source"], "callback");
  EXPECT_EQ(events[0]["verified"], true);
  auto exp = expectation(kIdA);
  EXPECT_EQ(exp["state"], "closed");
  EXPECT_EQ(exp["closed_by"], "callback");
  EXPECT_EQ(redis_.command({"ZCARD", "{payhook}:expect:due:yk"}).integer, 0);
}

// (b) No notification: after the deadline the API is asked once, and the payment's final state goes out
// once, from reconciliation; (c) the notification that comes late is stored (and answered) but not
// delivered again, nor re-checked.
TEST_F(ExpectedYooKassaTest, AWithheldNotificationIsReconciledOnceAndALateOneIsNotDeliveredTwice) {
  api_.set(path(kIdB), paymentObject(kIdB, "succeeded"));
  const auto registered = std::chrono::steady_clock::now();
  expect(kIdB, "1s");
  ASSERT_TRUE(waitFor([&] { return !eventsFor(kIdB).empty(); }, 15'000)) << daemon_->logs();
  EXPECT_GE(std::chrono::steady_clock::now() - registered, std::chrono::milliseconds(900));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto events = eventsFor(kIdB);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "yookassa.payment_status");
  EXPECT_EQ(events[0]["source"], "reconciliation");
  EXPECT_EQ(events[0]["verified"], true);
  EXPECT_EQ(events[0]["data"]["status"], "succeeded");
  EXPECT_EQ(events[0]["data"]["expected_order"], kIdB);
  EXPECT_EQ(events[0]["data"]["payment"]["outcome"], "succeeded");
  EXPECT_EQ(events[0]["data"]["payment"]["order_id"], "37");
  EXPECT_EQ(api_.requests(path(kIdB)), 1);
  auto exp = expectation(kIdB);
  EXPECT_EQ(exp["state"], "closed");
  EXPECT_EQ(exp["closed_by"], "reconciliation");

  auto r = notify(kIdB, "succeeded");
  ASSERT_EQ(r.status, 200) << r.body;
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(eventsFor(kIdB).size(), 1u);
  EXPECT_EQ(api_.requests(path(kIdB)), 1);  // held back before its re-check was queued
  auto id =
      redis_.command({"GET", std::string("{payhook}:idem:yk:payment.succeeded:") + kIdB + ":succeeded"});
  ASSERT_EQ(id.type, RedisReply::kString);
  auto late = eventHash(redis_, "{payhook}:ev:" + id.str);
  EXPECT_EQ(late["state"], "stored");
  EXPECT_EQ(late["targets"], "");
  EXPECT_EQ(late["same_as"], events[0]["id"].get<std::string>());
}

// (d) The API is down for a while: asked again on the route's backoff until it answers; nothing is lost.
TEST_F(ExpectedYooKassaTest, AnApiThatIsDownIsAskedAgainOnTheBackoff) {
  api_.set(path(kIdC), paymentObject(kIdC, "canceled"));
  api_.failNext(3);
  expect(kIdC, "500ms");
  ASSERT_TRUE(waitFor([&] { return !eventsFor(kIdC).empty(); }, 20'000)) << daemon_->logs();
  EXPECT_EQ(api_.requests(path(kIdC)), 4);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  auto events = eventsFor(kIdC);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["source"], "reconciliation");
  EXPECT_EQ(events[0]["data"]["payment"]["outcome"], "failed");
  EXPECT_EQ(expectation(kIdC)["state"], "closed");
}

// A notification the API refutes (a forged success of a payment still pending) settles nothing: the
// expectation stays open, and reconciliation reports the state the API really reaches.
TEST_F(ExpectedYooKassaTest, ARefutedNotificationLeavesItOpenForReconciliation) {
  constexpr const char* kId = "2f0a0005-000f-5000-8000-18db351245c7";
  api_.set(path(kId), paymentObject(kId, "pending"));
  expect(kId, "1s");
  ASSERT_EQ(notify(kId, "succeeded").status, 200);
  const std::string key = std::string("payment.succeeded:") + kId + ":succeeded";
  ASSERT_TRUE(waitFor([&] { return storedEvent(redis_, "yk", key)["status:@yk"] == "refuted"; }))
      << daemon_->logs();
  EXPECT_EQ(expectation(kId)["state"], "open");
  EXPECT_EQ(expectation(kId).count("seen:succeeded"), 0u);
  api_.set(path(kId), paymentObject(kId, "canceled"));
  ASSERT_TRUE(waitFor([&] { return !eventsFor(kId).empty(); }, 15'000)) << daemon_->logs();
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  auto events = eventsFor(kId);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "yookassa.payment_status");
  EXPECT_EQ(events[0]["data"]["payment"]["outcome"], "failed");
  auto exp = expectation(kId);
  EXPECT_EQ(exp["state"], "closed");
  EXPECT_EQ(exp["closed_by"], "reconciliation");
}

// The notification is stored before the deadline, but its re-check fails and is retried past it: the
// reconciler and the re-check race to the same state. Whichever settles it first is delivered, the other is
// held back; the app receives the state once.
TEST_F(ExpectedYooKassaTest, ANotificationWhoseRecheckRacesReconciliationIsDeliveredOnce) {
  constexpr const char* kId = "2f0a0006-000f-5000-8000-18db351245c7";
  api_.set(path(kId), paymentObject(kId, "succeeded"));
  expect(kId, "300ms");
  api_.failNext(1);
  ASSERT_EQ(notify(kId, "succeeded").status, 200);
  ASSERT_TRUE(waitFor([&] { return expectation(kId)["state"] == "closed"; }, 15'000)) << daemon_->logs();
  const std::string key = std::string("payment.succeeded:") + kId + ":succeeded";
  ASSERT_TRUE(waitFor([&] {
    auto ev = storedEvent(redis_, "yk", key);
    return ev["state"] == "stored" || ev["state"] == "delivered";
  })) << daemon_->logs();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto events = eventsFor(kId);
  ASSERT_EQ(events.size(), 1u);
  auto notified = storedEvent(redis_, "yk", key);
  if (expectation(kId)["closed_by"] == "reconciliation") {
    // The usual order: held back by its confirmation, after the re-check's retry.
    EXPECT_EQ(events[0]["type"], "yookassa.payment_status");
    EXPECT_EQ(notified["state"], "stored");
    EXPECT_EQ(notified["status:@yk"], "delivered");
    EXPECT_EQ(notified["same_as"], events[0]["id"].get<std::string>());
  } else {
    EXPECT_EQ(events[0]["type"], "yookassa.payment.succeeded");
    EXPECT_EQ(notified["state"], "delivered");
  }
}

// Waiting for capture: reported once, asked about again, and its capture is the final event.
TEST_F(ExpectedYooKassaTest, AHeldPaymentIsReportedOnceThenAskedAboutUntilItIsFinal) {
  constexpr const char* kId = "2f0a0004-000f-5000-8000-18db351245c7";
  api_.set(path(kId), paymentObject(kId, "waiting_for_capture"));
  expect(kId, "300ms");
  ASSERT_TRUE(waitFor([&] { return api_.requests(path(kId)) >= 3; }, 15'000)) << daemon_->logs();
  auto held = eventsFor(kId);
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0]["data"]["payment"]["outcome"], "held");
  EXPECT_EQ(held[0]["source"], "reconciliation");
  EXPECT_EQ(expectation(kId)["state"], "open");
  api_.set(path(kId), paymentObject(kId, "succeeded"));
  ASSERT_TRUE(waitFor([&] { return eventsFor(kId).size() == 2; }, 15'000)) << daemon_->logs();
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  auto events = eventsFor(kId);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1]["data"]["payment"]["outcome"], "succeeded");
  EXPECT_EQ(expectation(kId)["state"], "closed");
  EXPECT_EQ(expectation(kId)["closed_by"], "reconciliation");
}

// Only an id that stays in the API's path can be expected.
TEST_F(ExpectedYooKassaTest, AnOrderThatIsNoPaymentIdIsRefused) {
  auto r = admin("POST", "/v1/expected", json{{"route", "yk"}, {"order", "../refunds/x"}}.dump());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("payment id"), std::string::npos) << r.body;
  EXPECT_TRUE(api_.requests().empty());
}

}  // namespace
}  // namespace payhook::testing
