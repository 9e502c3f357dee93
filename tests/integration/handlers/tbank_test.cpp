// T-Bank's notifications through the real payhookd and a real redis-server: answered OK only once stored,
// T-Bank's hourly repeats folded into one event, forgeries and outages storing nothing, and the event
// delivered to the app signed, and found by payhookctl find under its OrderId.
#include <gtest/gtest.h>
#include <sodium.h>

#include <nlohmann/json.hpp>
#include <string>

#include "common/secret.h"
#include "common/webhook_signature.h"
#include "handlers/tbank/notification.h"
#include "support/daemon_fixture.h"
#include "support/daemon_process.h"
#include "support/http_client.h"
#include "support/redis_server.h"
#include "support/sink.h"
#include "support/store_inspect.h"
#include "support/wait.h"

namespace payhook::testing {
namespace {

constexpr const char* kPassword = "Dfsfh56dgKl";
// The documentation's notification and its published Token.
constexpr const char* kPublished =
    R"({"TerminalKey":"1321054611234DEMO","OrderId":"201709","Success":true,"Status":"AUTHORIZED",)"
    R"("PaymentId":8742591,"ErrorCode":"0","Amount":9855,"CardId":322264,"Pan":"430000******0777",)"
    R"("ExpDate":"1122","RebillId":101709,)"
    R"("Token":"b906d28e76c6428e37b25fcf86c0adc52c63d503013fdd632e300593d165766b"})";

// `body` (a JSON object without a Token) with the Token T-Bank would add.
std::string sign(const std::string& body, const char* password = kPassword) {
  auto n = handlers::tbank::parseNotification(body);
  EXPECT_TRUE(n.ok()) << body;
  const std::string token = n.ok() ? handlers::tbank::token(*n, Secret(std::string(password))) : "";
  return body.substr(0, body.rfind('}')) + R"(,"Token":")" + token + "\"}";
}

class TBankTest : public DaemonFixture {
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
name = "tb"
provider = "tbank"
path = "/tbank"
terminal_key = "1321054611234DEMO"
password_file = "secrets/tbank.pass"
forward = ["orders"]
)";
    createDaemon(o);
    writeSecret("tbank.pass", std::string(kPassword) + "\n");
    startDaemon();
  }
  void TearDown() override {
    DaemonFixture::TearDown();
    if (daemon_) {
      EXPECT_EQ(daemon_->logs().find(kPassword), std::string::npos);
    }
  }

  HttpResponse notify(const std::string& body) {
    return httpRequest(daemon_->address(), "POST", "/tbank/notify", {{"content-type", "application/json"}},
                       body);
  }

  Sink sink_{{200}};
};

void expectText(const HttpResponse& r, int status, const std::string& body) {
  EXPECT_EQ(r.status, status);
  EXPECT_EQ(r.header("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(r.body, body);
}

TEST_F(TBankTest, PublishedNotificationIsStoredAnsweredDeliveredSignedAndFound) {
  expectText(notify(kPublished), 200, "OK");

  auto ev = storedEvent(redis_, "tb", "payment:8742591:AUTHORIZED");
  ASSERT_FALSE(ev.empty()) << daemon_->logs();
  EXPECT_EQ(ev["type"], "tbank.authorized");
  EXPECT_EQ(ev["provider"], "tbank");
  EXPECT_EQ(ev["verified"], "1");
  EXPECT_EQ(ev["raw_path"], "/tbank/notify");
  // The Token, a digest over the password, is not kept.
  std::string blanked = kPublished;
  blanked.replace(blanked.find("b906d28e"), 64, "");
  EXPECT_EQ(ev["raw_body"], blanked);

  ASSERT_TRUE(waitFor([&] { return sink_.count() >= 1; })) << daemon_->logs();
  const http::Request got = sink_.received().at(0);
  swh::VerifyKeys keys;
  keys.hmac.push_back(swh::decodeSecret("whsec_b3JkZXJzLXRhcmdldC1zZWNyZXQtMDEyMzQ1Njc=").value());
  ASSERT_TRUE(got.header("webhook-id") && got.header("webhook-timestamp") && got.header("webhook-signature"));
  EXPECT_EQ(swh::verify(keys, *got.header("webhook-id"), *got.header("webhook-timestamp"),
                        *got.header("webhook-signature"), got.body, unixNowMs()),
            swh::VerifyResult::kOk);
  const auto envelope = nlohmann::json::parse(got.body);
  EXPECT_EQ(envelope["type"], "tbank.authorized");
  EXPECT_EQ(envelope["route"], "tb");
  EXPECT_EQ(envelope["provider"], "tbank");
  EXPECT_EQ(envelope["data"]["order_id"], "201709");
  EXPECT_EQ(envelope["data"]["amount"], "9855");
  EXPECT_EQ(envelope["data"]["payment"], nlohmann::json::parse(R"({"outcome":"held","amount":"98.55",
      "amount_minor":9855,"currency":"RUB","order_id":"201709","provider_payment_id":"8742591","test":false,
      "warnings":[],"unsigned":[]})"));
  EXPECT_EQ(envelope["raw"]["body"], blanked);

  for (const char* key : {"201709", "8742591"}) {
    std::string out;
    ASSERT_EQ(runProgram({PAYHOOKCTL_PATH, "-c", daemon_->configPath(), "find", key, "--json"}, &out), 0)
        << out;
    EXPECT_NE(out.find(*got.header("webhook-id")), std::string::npos) << out;
  }
}

TEST_F(TBankTest, HourlyRepeatsAreOneEventAndANewStatusIsNews) {
  for (int i = 0; i < 3; ++i) expectText(notify(kPublished), 200, "OK");
  const std::string confirmed =
      sign(R"({"TerminalKey":"1321054611234DEMO","OrderId":"201709","Success":true,)"
           R"("Status":"CONFIRMED","PaymentId":8742591,"ErrorCode":"0","Amount":9855})");
  expectText(notify(confirmed), 200, "OK");
  expectText(notify(confirmed), 200, "OK");
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 2u);
  ASSERT_TRUE(waitFor([&] { return sink_.count() >= 2; })) << daemon_->logs();
  EXPECT_EQ(sink_.count(), 2u);
  EXPECT_EQ(storedEvent(redis_, "tb", "payment:8742591:CONFIRMED")["type"], "tbank.confirmed");
}

TEST_F(TBankTest, ForgedForeignAndMalformedStoreNothing) {
  std::string amount = kPublished;
  amount.replace(amount.find("9855"), 4, "985500");
  expectText(notify(amount), 403, "bad token\n");
  expectText(
      notify(sign(R"({"TerminalKey":"1321054611234DEMO","OrderId":"1","Status":"CONFIRMED","PaymentId":1})",
                  "another-password")),
      403, "bad token\n");
  expectText(
      notify(sign(R"({"TerminalKey":"OtherTerminal","OrderId":"1","Status":"CONFIRMED","PaymentId":1})")),
      403, "bad token\n");
  expectText(notify("not json"), 400, "bad request\n");
  expectText(notify(R"({"Status":"CONFIRMED","Status":"REJECTED","Token":"x"})"), 400, "bad request\n");
  expectNothingStored();
  auto get = httpRequest(daemon_->address(), "GET", "/tbank/notify");
  EXPECT_EQ(get.status, 405);
  EXPECT_EQ(get.header("allow"), "POST");
}

TEST_F(TBankTest, RedisDownIs503ThenTheRetryIsStoredOnce) {
  redis_.kill();
  ASSERT_TRUE(daemon_->waitReady(503, 15'000));
  auto r = notify(kPublished);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.header("retry-after"), "5");
  EXPECT_NE(r.body, "OK");
  redis_.start();
  ASSERT_TRUE(daemon_->waitReady(200, 20'000)) << daemon_->logs();
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 0u);
  expectText(notify(kPublished), 200, "OK");
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 1u);
}

}  // namespace
}  // namespace payhook::testing
