// Payin-payout against the real payhookd and a real redis-server: the exact answers, what is stored,
// retries folded into one event, forgeries, replays and outages storing nothing.
#include <gtest/gtest.h>
#include <sodium.h>

#include <chrono>
#include <ctime>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "handlers/digest.h"
#include "handlers/payinpayout/payinpayout.h"
#include "support/daemon_fixture.h"
#include "support/daemon_process.h"
#include "support/http_client.h"
#include "support/redis_server.h"
#include "support/store_inspect.h"

namespace payhook::testing {
namespace {

constexpr const char* kPpKey = "secret_key";

constexpr const char* kRoutes = R"(
[[routes]]
name = "pp"
provider = "payinpayout"
path = "/payinpayout"
secret_file = "secrets/pp.secret"
forward = ["orders"]

[[routes]]
name = "pp-tight"
provider = "payinpayout"
path = "/pp-tight"
secret_file = "secrets/pp.secret"
timestamp_tolerance = "1s"
forward = ["orders"]

)";

// Signs `body` (a JSON object without a hash) the way Payin-payout does and appends the hash.
std::string ppSign(const std::string& body, const char* key = kPpKey) {
  auto message = handlers::payinpayout::signedMessage(body, handlers::payinpayout::Order::kAsSent);
  EXPECT_TRUE(message.ok()) << body;
  const std::string mac =
      handlers::hmacMd5Hex(Secret(std::string(key)), message.ok() ? *message : "", handlers::HexCase::kLower);
  return body.substr(0, body.rfind('}')) + R"(,"hash":")" + mac + R"("})";
}

std::string invoiceBody(int64_t ts = std::time(nullptr)) {
  return ppSign(R"({"external_id":"123457","service_id":111,"status":1,"tracker":" gid_5ce3b1d8",)"
                R"("payment_in_id":"011111-000082","payment_out_id":"022222-001244","timestamp":")" +
                std::to_string(ts) + R"("})");
}

std::string topupBody(int64_t ts = std::time(nullptr)) {
  return ppSign(R"({"payment_in_id":64522147743974,"payment_in_status":1,"timestamp":)" + std::to_string(ts) +
                R"(,"tracker":" gid_5d385b05"})");
}

class PayinPayoutTest : public DaemonFixture {
 protected:
  static void SetUpTestSuite() { ASSERT_GE(sodium_init(), 0); }
  void SetUp() override {
    DaemonOptions o;
    o.routes = kRoutes;
    createDaemon(o);
    writeSecret("pp.secret", std::string(kPpKey) + "\n");
    startDaemon();
  }
  void TearDown() override {
    DaemonFixture::TearDown();
    if (daemon_) {
      // No secret ever reaches the log.
      const std::string logs = daemon_->logs();
      EXPECT_EQ(logs.find(kPpKey), std::string::npos);
    }
  }

  HttpResponse pp(const std::string& endpoint, const std::string& body) {
    return httpRequest(daemon_->address(), "POST", "/payinpayout/" + endpoint,
                       {{"content-type", "application/json"}}, body);
  }
};

void expectPpAnswer(const HttpResponse& r, int status, const char* body) {
  EXPECT_EQ(r.status, status);
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.body, body);
}

TEST_F(PayinPayoutTest, InvoiceIsStoredThenAnsweredTrue) {
  const int64_t ts = std::time(nullptr);
  const std::string body = invoiceBody(ts);
  expectPpAnswer(pp("callback", body), 200, R"({"result": true})");

  auto ev = storedEvent(redis_, "pp", "invoice:123457:1");
  ASSERT_FALSE(ev.empty()) << daemon_->logs();
  EXPECT_EQ(ev["type"], "payinpayout.invoice_result");
  EXPECT_EQ(ev["route"], "pp");
  EXPECT_EQ(ev["provider"], "payinpayout");
  EXPECT_EQ(ev["verified"], "1");
  EXPECT_EQ(ev["raw_method"], "POST");
  EXPECT_EQ(ev["raw_path"], "/payinpayout/callback");
  EXPECT_EQ(ev["raw_content_type"], "application/json");
  EXPECT_EQ(ev["raw_body"], body);
  auto data = nlohmann::json::parse(ev["data"]);
  EXPECT_EQ(data["payment"]["outcome"], "succeeded");
  EXPECT_EQ(data["payment"]["order_id"], "123457");
  EXPECT_EQ(data["payment"]["provider_payment_id"], "011111-000082");
  data.erase("payment");
  EXPECT_EQ(data,
            nlohmann::json::parse(R"({"external_id":"123457","service_id":"111","status":"1",)"
                                  R"("unsigned":{"tracker":" gid_5ce3b1d8"},"payment_in_id":"011111-000082",)"
                                  R"("payment_out_id":"022222-001244","timestamp":")" +
                                  std::to_string(ts) + R"("})"));
  EXPECT_EQ(queuedJobCount(redis_), 1);
}

TEST_F(PayinPayoutTest, TopupIsStoredUnderItsOwnKey) {
  const int64_t ts = std::time(nullptr);
  expectPpAnswer(pp("topup", topupBody(ts)), 200, R"({"result": true})");
  auto ev = storedEvent(redis_, "pp", "topup:64522147743974");
  ASSERT_FALSE(ev.empty()) << daemon_->logs();
  EXPECT_EQ(ev["type"], "payinpayout.topup");
  EXPECT_EQ(ev["raw_path"], "/payinpayout/topup");
  auto data = nlohmann::json::parse(ev["data"]);
  EXPECT_EQ(data["payment"]["outcome"], "succeeded");
  data.erase("payment");
  EXPECT_EQ(data, nlohmann::json::parse(
                      R"({"payment_in_id":"64522147743974","payment_in_status":"1","timestamp":")" +
                      std::to_string(ts) + R"(","unsigned":{"tracker":" gid_5d385b05"}})"));
}

TEST_F(PayinPayoutTest, DuplicatesAreOneEvent) {
  // Payin-payout retries until it sees 200 {"result": true}; its retries re-sign with a fresh timestamp.
  const int64_t ts = std::time(nullptr);
  for (int i = 0; i < 5; ++i) expectPpAnswer(pp("callback", invoiceBody(ts - i)), 200, R"({"result": true})");
  for (int i = 0; i < 3; ++i) expectPpAnswer(pp("topup", topupBody(ts)), 200, R"({"result": true})");
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 2u);
  EXPECT_EQ(queuedJobCount(redis_), 2);
  // A later status of the same invoice is news, not a retry.
  const std::string insufficient = ppSign(
      R"({"external_id":"123457","service_id":111,"status":3,"timestamp":")" + std::to_string(ts) + R"("})");
  expectPpAnswer(pp("callback", insufficient), 200, R"({"result": true})");
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 3u);
}

TEST_F(PayinPayoutTest, ForgedStaleAndMalformedStoreNothing) {
  std::string forged = invoiceBody();
  forged.replace(forged.find("123457"), 6, "123458");
  expectPpAnswer(pp("callback", forged), 403, R"({"result": false})");
  std::string other_key =
      ppSign(R"({"payment_in_id":1,"timestamp":)" + std::to_string(std::time(nullptr)) + "}", "secret_kez");
  expectPpAnswer(pp("topup", other_key), 403, R"({"result": false})");
  // Correctly signed but ten minutes and more old (the default tolerance is 600 s): a replay.
  expectPpAnswer(pp("callback", invoiceBody(std::time(nullptr) - 700)), 403, R"({"result": false})");
  expectPpAnswer(pp("topup", topupBody(std::time(nullptr) + 700)), 403, R"({"result": false})");
  // The published vectors themselves date from 2019.
  expectPpAnswer(
      pp("topup", R"({"payment_in_id":64522147743974,"payment_in_status":1,"timestamp":1563956853,)"
                  R"("tracker":" gid_...","hash":"9d9ef37a7b3ff4a1b1d4600de2db7c78"})"),
      403, R"({"result": false})");
  expectPpAnswer(pp("callback", "not json"), 400, R"({"result": false})");
  expectPpAnswer(pp("callback", R"({"a":{"b":1},"hash":"x"})"), 400, R"({"result": false})");
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 0u);
  EXPECT_EQ(countKeys(redis_, "{payhook}:idem:*"), 0u);
  auto get = httpRequest(daemon_->address(), "GET", "/payinpayout/callback");
  EXPECT_EQ(get.status, 405);
  EXPECT_EQ(get.header("allow"), "POST");
}

// The window guards new events only: Payin-payout may re-send a callback it never saw answered with its
// original timestamp, long after, and that repeat must get the same positive answer.
TEST_F(PayinPayoutTest, AStoredCallbackRepeatedLaterWithItsOwnTimestampIsAckedAgain) {
  auto tight = [&](const std::string& body) {
    return httpRequest(daemon_->address(), "POST", "/pp-tight/callback",
                       {{"content-type", "application/json"}}, body);
  };
  const int64_t ts = std::time(nullptr);
  const std::string paid =
      ppSign(R"({"external_id":"900","status":1,"timestamp":)" + std::to_string(ts) + "}");
  const std::string failed =
      ppSign(R"({"external_id":"901","status":4,"timestamp":)" + std::to_string(ts) + "}");
  expectPpAnswer(tight(paid), 200, R"({"result": true})");
  std::this_thread::sleep_for(std::chrono::milliseconds(2'200));  // past the route's 1 s window
  expectPpAnswer(tight(paid), 200, R"({"result": true})");
  // Never stored: an old callback is still a replay.
  expectPpAnswer(tight(failed), 403, R"({"result": false})");
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 1u);
  EXPECT_EQ(queuedJobCount(redis_), 1);
  // A repeat of one route's event is not a repeat for another route.
  expectPpAnswer(pp("callback", ppSign(R"({"external_id":"900","status":1,"timestamp":)" +
                                       std::to_string(ts - 3600) + "}")),
                 403, R"({"result": false})");
  const std::string logs = daemon_->logs();
  EXPECT_NE(logs.find("repeats a stored event"), std::string::npos) << logs;
}

TEST_F(PayinPayoutTest, RedisDownIs503ThenTheRetryIsStoredOnce) {
  redis_.kill();
  ASSERT_TRUE(daemon_->waitReady(503, 15'000));
  const std::string body = invoiceBody();
  auto r = pp("callback", body);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.header("retry-after"), "5");
  EXPECT_EQ(r.body.find("true"), std::string::npos);

  redis_.start();
  ASSERT_TRUE(daemon_->waitReady(200, 20'000)) << daemon_->logs();
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 0u);
  expectPpAnswer(pp("callback", body), 200, R"({"result": true})");
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 1u);
}

}  // namespace
}  // namespace payhook::testing
