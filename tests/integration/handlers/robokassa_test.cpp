// Robokassa's ResultURL through the real payhookd and a real redis-server: answered OK<InvId> only once
// stored, repeats folded into one event, forgeries and outages storing nothing, and the event delivered to
// the app signed, and found by payhookctl find under its InvId.
#include <gtest/gtest.h>
#include <sodium.h>

#include <nlohmann/json.hpp>
#include <string>

#include "common/webhook_signature.h"
#include "support/daemon_fixture.h"
#include "support/daemon_process.h"
#include "support/http_client.h"
#include "support/redis_server.h"
#include "support/sink.h"
#include "support/store_inspect.h"
#include "support/wait.h"

namespace payhook::testing {
namespace {

constexpr const char* kForm = "application/x-www-form-urlencoded";
// The published ResultURL vector (Password #2 "test_password2", md5) and the SDK's Shp_ vector in sha256
// (Password #2 "password2").
constexpr const char* kPublishedQuery = "OutSum=100&InvId=58&SignatureValue=6E75B4F55BEFE22C8DB12778D8EF32C3";
constexpr const char* kShpBody =
    "OutSum=100.000000&InvId=450009&Fee=2.50&EMail=buyer%40example.com&Shp_login=Vasya&Shp_oplata=1"
    "&PaymentMethod=BankCard&SignatureValue=6846c44b56bb724f82ec3bd1680acda5fe06dd4fc1462b45766a61b777cc24c3";

class RobokassaTest : public DaemonFixture {
 protected:
  static void SetUpTestSuite() { ASSERT_GE(sodium_init(), 0); }
  void SetUp() override {
    DaemonOptions o;
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
name = "robo"
provider = "robokassa"
path = "/robokassa"
password2_file = "secrets/robo.pass2"
hash = "md5"
forward = ["orders"]

[[routes]]
name = "robo-sha"
provider = "robokassa"
path = "/robo-sha"
password2_file = "secrets/robo-sha.pass2"
hash = "sha256"
forward = ["orders"]
)";
    createDaemon(o);
    writeSecret("robo.pass2", "test_password2\n");
    writeSecret("robo-sha.pass2", "password2\n");
    startDaemon();
  }
  void TearDown() override {
    DaemonFixture::TearDown();
    if (daemon_) {
      const std::string logs = daemon_->logs();
      EXPECT_EQ(logs.find("test_password2"), std::string::npos);
      EXPECT_EQ(logs.find("password2\n"), std::string::npos);
    }
  }

  HttpResponse result(const std::string& query) {
    return httpRequest(daemon_->address(), "GET", "/robokassa/result?" + query);
  }
  HttpResponse postResult(const std::string& path, const std::string& body) {
    return httpRequest(daemon_->address(), "POST", path, {{"content-type", kForm}}, body);
  }

  Sink sink_{{200}};
};

void expectText(const HttpResponse& r, int status, const std::string& body) {
  EXPECT_EQ(r.status, status);
  EXPECT_EQ(r.header("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(r.body, body);
}

TEST_F(RobokassaTest, PostedResultIsStoredAnsweredDeliveredSignedAndFound) {
  expectText(postResult("/robo-sha/result", kShpBody), 200, "OK450009");

  auto ev = storedEvent(redis_, "robo-sha", "result:450009");
  ASSERT_FALSE(ev.empty()) << daemon_->logs();
  EXPECT_EQ(ev["type"], "robokassa.result");
  EXPECT_EQ(ev["provider"], "robokassa");
  EXPECT_EQ(ev["verified"], "1");
  EXPECT_EQ(ev["raw_method"], "POST");
  EXPECT_EQ(ev["raw_path"], "/robo-sha/result");
  // The signature, a digest over the password, is not kept.
  const std::string body = kShpBody;
  EXPECT_EQ(ev["raw_body"], body.substr(0, body.find("SignatureValue=") + 15));

  ASSERT_TRUE(waitFor([&] { return sink_.count() >= 1; })) << daemon_->logs();
  const http::Request got = sink_.received().at(0);
  swh::VerifyKeys keys;
  keys.hmac.push_back(swh::decodeSecret("whsec_b3JkZXJzLXRhcmdldC1zZWNyZXQtMDEyMzQ1Njc=").value());
  ASSERT_TRUE(got.header("webhook-id") && got.header("webhook-timestamp") && got.header("webhook-signature"));
  EXPECT_EQ(swh::verify(keys, *got.header("webhook-id"), *got.header("webhook-timestamp"),
                        *got.header("webhook-signature"), got.body, unixNowMs()),
            swh::VerifyResult::kOk);
  const auto envelope = nlohmann::json::parse(got.body);
  EXPECT_EQ(envelope["type"], "robokassa.result");
  EXPECT_EQ(envelope["route"], "robo-sha");
  EXPECT_EQ(envelope["provider"], "robokassa");
  EXPECT_EQ(envelope["verified"], true);
  EXPECT_EQ(envelope["data"], nlohmann::json::parse(R"({"out_sum":"100.000000","inv_id":"450009",
      "shp":{"Shp_login":"Vasya","Shp_oplata":"1"},
      "unsigned":{"fee":"2.50","email":"buyer@example.com","payment_method":"BankCard","other":{}},
      "payment":{"outcome":"succeeded","amount":"100.000000","amount_minor":10000,"currency":"RUB",
                 "order_id":"450009","provider_payment_id":null,"test":false,"warnings":[],"unsigned":[]}})"));

  std::string out;
  ASSERT_EQ(runProgram({PAYHOOKCTL_PATH, "-c", daemon_->configPath(), "find", "450009", "--json"}, &out), 0)
      << out;
  EXPECT_NE(out.find(*got.header("webhook-id")), std::string::npos) << out;
}

TEST_F(RobokassaTest, PublishedGetAndItsRepeatsAreOneEvent) {
  for (int i = 0; i < 3; ++i) expectText(result(kPublishedQuery), 200, "OK58");
  // The same notice posted as a form (the cabinet's method changed) is the same event too.
  expectText(postResult("/robokassa/result", kPublishedQuery), 200, "OK58");
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 1u);
  ASSERT_TRUE(waitFor([&] { return sink_.count() >= 1; })) << daemon_->logs();
  EXPECT_EQ(sink_.count(), 1u);
  auto ev = storedEvent(redis_, "robo", "result:58");
  ASSERT_FALSE(ev.empty());
  EXPECT_EQ(ev["raw_query"], "OutSum=100&InvId=58&SignatureValue=");
}

TEST_F(RobokassaTest, ForgedAndMalformedStoreNothing) {
  expectText(result("OutSum=1000&InvId=58&SignatureValue=6E75B4F55BEFE22C8DB12778D8EF32C3"), 403,
             "bad sign\n");
  expectText(result("OutSum=100&InvId=58"), 403, "bad sign\n");
  // The other route's algorithm and password.
  expectText(postResult("/robo-sha/result", kPublishedQuery), 403, "bad sign\n");
  expectText(postResult("/robokassa/result", "OutSum=100&OutSum=100&InvId=58&SignatureValue=00"), 400,
             "bad request\n");
  expectText(result("OutSum=abc&InvId=58&SignatureValue=00"), 400, "bad request\n");
  expectNothingStored();
  EXPECT_EQ(httpRequest(daemon_->address(), "PUT", "/robokassa/result").status, 405);
}

TEST_F(RobokassaTest, RedisDownIs503ThenTheRetryIsStoredOnce) {
  redis_.kill();
  ASSERT_TRUE(daemon_->waitReady(503, 15'000));
  auto r = result(kPublishedQuery);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.header("retry-after"), "5");
  EXPECT_EQ(r.body.find("OK"), std::string::npos);
  redis_.start();
  ASSERT_TRUE(daemon_->waitReady(200, 20'000)) << daemon_->logs();
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 0u);
  expectText(result(kPublishedQuery), 200, "OK58");
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 1u);
}

}  // namespace
}  // namespace payhook::testing
