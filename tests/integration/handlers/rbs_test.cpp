// The RBS bank gateway's callbacks through the real payhookd and a real redis-server: GET and POST, HMAC
// and RSA checksums, the bank's retries, forgeries, and Redis going away.
#include <gtest/gtest.h>
#include <sodium.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/secret.h"
#include "common/webhook_signature.h"
#include "handlers/digest.h"
#include "handlers/form.h"
#include "handlers/rbs/rbs.h"
#include "support/daemon_fixture.h"
#include "support/daemon_process.h"
#include "support/http_client.h"
#include "support/redis_server.h"
#include "support/sink.h"
#include "support/store_inspect.h"

namespace payhook::testing {
namespace {

// The RBS gateway's published HMAC test vector.
constexpr const char* kToken = "ooc7slpvc61k7sf7ma7p4hrefr";
constexpr const char* kHmacQuery =
    "mdOrder=06cf5599-3f17-7c86-bdbc-bd7d00a8b38b&operation=approved&orderNumber=2003&status=1";
constexpr const char* kHmacChecksum = "EAF2FB72CAB99FD5067F4BA493DD84F4D79C1589FDE8ED29622F0F07215AA972";
constexpr const char* kHmacIdem = "{payhook}:idem:bank:06cf5599-3f17-7c86-bdbc-bd7d00a8b38b:approved:1";
constexpr const char* kForm = "application/x-www-form-urlencoded";

std::string fixture(const std::string& name) {
  std::ifstream f(std::string(PAYHOOK_SOURCE_DIR) + "/tests/fixtures/rbs/" + name, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The stored data without the normalised payment: the bank's fields, as they always were.
std::string withoutPayment(const std::string& data_json) {
  auto data = nlohmann::json::parse(data_json);
  data.erase("payment");
  if (data["unsigned"].empty()) data.erase("unsigned");  // the shop's own URL parameters, when there are any
  return data.dump();
}

std::string signedPairs(const std::string& pairs) {
  auto form = handlers::Form::parse(pairs);
  return pairs + "&checksum=" +
         handlers::hmacSha256Hex(Secret(kToken), handlers::rbs::signedString(*form),
                                 handlers::HexCase::kUpper);
}

constexpr const char* kRoutes = R"(
[[routes]]
name = "bank"
provider = "rbs"
path = "/rbs"
checksum = "hmac-sha256"
secret_file = "secrets/rbs.token"
forward = ["orders"]

[[routes]]
name = "bank-rsa"
provider = "rbs"
path = "/rbs-rsa"
checksum = "rsa"
public_key_file = "secrets/bank-public.pem"
forward = ["orders"]

[[routes]]
name = "bank-open"
provider = "rbs"
path = "/rbs-open"
checksum = "none"
allow_ips = ["127.0.0.1/32"]
forward = ["orders"]

[[routes]]
name = "bank-elsewhere"
provider = "rbs"
path = "/rbs-elsewhere"
checksum = "none"
allow_ips = ["192.0.2.0/24"]
forward = ["orders"]
)";

class RbsTest : public DaemonFixture {
 protected:
  static void SetUpTestSuite() { ASSERT_GE(sodium_init(), 0); }
  void SetUp() override {
    DaemonOptions o;
    o.routes = kRoutes;
    createDaemon(o);
    writeSecret("rbs.token", std::string(kToken) + "\n");
    writeSecret("bank-public.pem", fixture("bank-public.pem"));
    startDaemon(10'000);
  }

  HttpResponse get(const std::string& query, const std::string& path = "/rbs/callback") {
    return httpRequest(daemon_->address(), "GET", path + "?" + query);
  }
  HttpResponse post(const std::string& body, const std::string& path = "/rbs/callback") {
    return httpRequest(daemon_->address(), "POST", path, {{"content-type", kForm}}, body);
  }
};

TEST_F(RbsTest, GetCallbackIsStoredThenAnsweredOK) {
  const std::string query = std::string(kHmacQuery) + "&checksum=" + kHmacChecksum;
  auto resp = get(query);
  ASSERT_EQ(resp.status, 200) << daemon_->logs();
  EXPECT_EQ(resp.body, "OK");
  EXPECT_EQ(resp.header("content-type"), "text/plain; charset=utf-8");

  auto id = redis_.command({"GET", kHmacIdem});
  ASSERT_EQ(id.type, RedisReply::kString);
  auto ev = eventHash(redis_, "{payhook}:ev:" + id.str);
  EXPECT_EQ(ev["type"], "rbs.approved");
  EXPECT_EQ(ev["route"], "bank");
  EXPECT_EQ(ev["provider"], "rbs");
  EXPECT_EQ(ev["verified"], "1");
  EXPECT_EQ(withoutPayment(ev["data"]),
            R"({"md_order":"06cf5599-3f17-7c86-bdbc-bd7d00a8b38b","operation":"approved",)"
            R"("order_number":"2003","status":"1"})");
  EXPECT_EQ(nlohmann::json::parse(ev["data"])["payment"]["outcome"], "held");
  EXPECT_EQ(ev["raw_method"], "GET");
  EXPECT_EQ(ev["raw_path"], "/rbs/callback");
  EXPECT_EQ(ev["raw_query"], query);
  EXPECT_EQ(ev["raw_body"], "");
  EXPECT_EQ(queuedJobCount(redis_), 1);
  // The token never reaches the log.
  EXPECT_EQ(daemon_->logs().find(kToken), std::string::npos);
}

TEST_F(RbsTest, PostCallbackIsStoredThenAnsweredOK) {
  const std::string body = signedPairs(
      "mdOrder=3ff6962a-7dcc-4283-ab50-a6d7dd3386fe&orderNumber=10747&operation=deposited&status=1"
      "&amount=123456&currency=643&callbackCreationDate=Mon+Jan+31+21%3A46%3A52+MSK+2022");
  auto resp = post(body);
  ASSERT_EQ(resp.status, 200) << daemon_->logs();
  EXPECT_EQ(resp.body, "OK");

  auto id = redis_.command({"GET", "{payhook}:idem:bank:3ff6962a-7dcc-4283-ab50-a6d7dd3386fe:deposited:1"});
  ASSERT_EQ(id.type, RedisReply::kString);
  auto ev = eventHash(redis_, "{payhook}:ev:" + id.str);
  EXPECT_EQ(ev["type"], "rbs.deposited");
  EXPECT_EQ(ev["raw_method"], "POST");
  EXPECT_EQ(ev["raw_body"], body);
  EXPECT_EQ(ev["raw_content_type"], kForm);
  auto data = nlohmann::json::parse(ev["data"]);
  EXPECT_EQ(data["amount"], "123456");
  EXPECT_EQ(data["currency"], "643");
  EXPECT_EQ(data["callback_creation_date"], "Mon Jan 31 21:46:52 MSK 2022");
  EXPECT_FALSE(data.contains("checksum"));
}

TEST_F(RbsTest, TheBanksThreeRepeatsAreOneEvent) {
  const std::string query = std::string(kHmacQuery) + "&checksum=" + kHmacChecksum;
  for (int i = 0; i < 3; ++i) {
    auto resp = get(query);
    EXPECT_EQ(resp.status, 200) << i;
    EXPECT_EQ(resp.body, "OK") << i;
  }
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 1u);
  EXPECT_EQ(queuedJobCount(redis_), 1);
  // The same callback by POST is the same event too.
  EXPECT_EQ(post(query).status, 200);
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 1u);
  // Another operation on the same order is a new event.
  EXPECT_EQ(
      get(signedPairs("mdOrder=06cf5599-3f17-7c86-bdbc-bd7d00a8b38b&operation=deposited&status=1")).status,
      200);
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 2u);
}

TEST_F(RbsTest, ForgedCallbacksAre403AndNothingIsStored) {
  std::string tampered = std::string(kHmacQuery) + "&checksum=" + kHmacChecksum;
  tampered.replace(tampered.find("2003"), 4, "2004");
  auto resp = get(tampered);
  EXPECT_EQ(resp.status, 403);
  EXPECT_EQ(resp.body, "invalid checksum\n");
  EXPECT_EQ(get(kHmacQuery).status, 403);  // no checksum at all
  EXPECT_EQ(post(std::string(kHmacQuery) + "&checksum=" + std::string(64, '0')).status, 403);
  // The published RSA callback sent to the HMAC route.
  EXPECT_EQ(get(fixture("rsa-sha512-callback.query")).status, 403);
  // Malformed: 400.
  EXPECT_EQ(get("operation=approved&status=1&checksum=00").status, 400);
  EXPECT_EQ(get(std::string(kHmacQuery) + "&status=0&checksum=" + kHmacChecksum).status, 400);
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 0u);
  EXPECT_EQ(countKeys(redis_, "{payhook}:idem:*"), 0u);
}

TEST_F(RbsTest, PublishedRsaCallbackThroughTheDaemon) {
  const std::string query = fixture("rsa-sha512-callback.query");
  std::string tampered = query;
  tampered.replace(tampered.find("amount=35000099"), 15, "amount=935000099");
  EXPECT_EQ(get(tampered, "/rbs-rsa/callback").status, 403);
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 0u);

  auto resp = get(query, "/rbs-rsa/callback");
  ASSERT_EQ(resp.status, 200) << daemon_->logs();
  EXPECT_EQ(resp.body, "OK");
  auto id =
      redis_.command({"GET", "{payhook}:idem:bank-rsa:12b59da8-f68f-7c8d-12b5-9da8000826ea:deposited:1"});
  ASSERT_EQ(id.type, RedisReply::kString);
  auto ev = eventHash(redis_, "{payhook}:ev:" + id.str);
  EXPECT_EQ(ev["type"], "rbs.deposited");
  EXPECT_EQ(ev["route"], "bank-rsa");
  EXPECT_EQ(ev["verified"], "1");
  EXPECT_EQ(withoutPayment(ev["data"]),
            R"({"amount":"35000099","md_order":"12b59da8-f68f-7c8d-12b5-9da8000826ea",)"
            R"("operation":"deposited","status":"1"})");
  EXPECT_EQ(nlohmann::json::parse(ev["data"])["payment"]["amount"], "350000.99");
  EXPECT_EQ(post(query, "/rbs-rsa/callback").status, 200);
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 1u);
}

TEST_F(RbsTest, ChecksumNoneIsTrustedByAddressOnly) {
  auto resp = get(kHmacQuery, "/rbs-open/callback");
  ASSERT_EQ(resp.status, 200) << daemon_->logs();
  auto id =
      redis_.command({"GET", "{payhook}:idem:bank-open:06cf5599-3f17-7c86-bdbc-bd7d00a8b38b:approved:1"});
  ASSERT_EQ(id.type, RedisReply::kString);
  EXPECT_EQ(eventHash(redis_, "{payhook}:ev:" + id.str)["verified"], "0");
  // A checksum on a "none" route means the config and the bank disagree.
  EXPECT_EQ(get(std::string(kHmacQuery) + "&checksum=" + kHmacChecksum, "/rbs-open/callback").status, 403);
  // Not from the bank's addresses: refused by the daemon before the handler.
  EXPECT_EQ(get(kHmacQuery, "/rbs-elsewhere/callback").status, 403);
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 1u);
}

TEST_F(RbsTest, OnlyGetAndPostOnTheCallbackPath) {
  auto r = httpRequest(daemon_->address(), "PUT", "/rbs/callback", {{"content-type", kForm}}, kHmacQuery);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(httpRequest(daemon_->address(), "GET", "/rbs?" + std::string(kHmacQuery)).status, 404);
}

TEST_F(RbsTest, RedisKilledMeans503AndNothingAckedThenTheRetryIsStored) {
  redis_.kill();
  ASSERT_TRUE(daemon_->waitReady(503, 10'000));
  const std::string query = std::string(kHmacQuery) + "&checksum=" + kHmacChecksum;
  auto resp = get(query);
  EXPECT_EQ(resp.status, 503);
  EXPECT_EQ(resp.header("retry-after"), "5");
  EXPECT_NE(resp.body, "OK");

  redis_.start();
  ASSERT_TRUE(daemon_->waitReady(200, 15'000)) << daemon_->logs();
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 0u);
  // The bank retries in 30 s; that retry is the first stored copy.
  EXPECT_EQ(get(query).status, 200);
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 1u);
}

TEST(RbsDelivery, AFailedDepositFromAUrlWithTheShopsParameterReachesTheAppAsFailed) {
  RedisServer redis;
  Sink sink({200});
  DaemonOptions o;
  o.redis_url = redis.url();
  o.targets = R"(
[[targets]]
name = "orders"
url = ")" + sink.url() +
              R"("
secret_file = "secrets/orders.whsec"
timeout = "5s"
)";
  o.routes = R"(
[[routes]]
name = "bank"
provider = "rbs"
path = "/rbs"
checksum = "hmac-sha256"
secret_file = "secrets/rbs.token"
forward = ["orders"]
)";
  DaemonProcess daemon(o);
  writeFile(daemon.dir() + "/secrets/rbs.token", std::string(kToken) + "\n");
  ASSERT_TRUE(daemon.start()) << daemon.logs();
  ASSERT_TRUE(daemon.waitReady(200, 10'000)) << daemon.logs();

  // The shop's callback URL carries its own "shop=42"; the bank POSTs its signed pairs as the body: a deposit
  // that failed (status=0).
  const std::string body = signedPairs(
      "mdOrder=3ff6962a-7dcc-4283-ab50-a6d7dd3386fe&orderNumber=10747&operation=deposited&status=0"
      "&amount=123456&currency=643");
  auto resp = httpRequest(daemon.address(), "POST", "/rbs/callback?shop=42", {{"content-type", kForm}}, body);
  ASSERT_EQ(resp.status, 200) << resp.body << daemon.logs();
  EXPECT_EQ(resp.body, "OK");
  ASSERT_TRUE(waitFor([&] { return sink.count() >= 1; })) << daemon.logs();

  const http::Request got = sink.received().at(0);
  // Signed for the app with the target's secret (what DaemonProcess writes into secrets/orders.whsec).
  swh::VerifyKeys keys;
  keys.hmac.push_back(swh::decodeSecret("whsec_b3JkZXJzLXRhcmdldC1zZWNyZXQtMDEyMzQ1Njc=").value());
  ASSERT_TRUE(got.header("webhook-id") && got.header("webhook-timestamp") && got.header("webhook-signature"));
  EXPECT_EQ(swh::verify(keys, *got.header("webhook-id"), *got.header("webhook-timestamp"),
                        *got.header("webhook-signature"), got.body, unixNowMs()),
            swh::VerifyResult::kOk);
  const auto envelope = nlohmann::json::parse(got.body);
  EXPECT_EQ(envelope["type"], "rbs.deposited");
  const auto& data = envelope["data"];
  EXPECT_EQ(data["payment"]["outcome"], "failed");
  EXPECT_EQ(data["payment"]["amount"], "1234.56");
  EXPECT_EQ(data["payment"]["amount_minor"], 123456);
  EXPECT_EQ(data["payment"]["currency"], "RUB");
  EXPECT_EQ(data["payment"]["order_id"], "10747");
  EXPECT_EQ(data["payment"]["provider_payment_id"], "3ff6962a-7dcc-4283-ab50-a6d7dd3386fe");
  EXPECT_EQ(data["unsigned"]["shop_params"], nlohmann::json::parse(R"({"shop":"42"})"));
  EXPECT_FALSE(data.contains("shop"));
  EXPECT_EQ(data["status"], "0");
  EXPECT_EQ(data["md_order"], "3ff6962a-7dcc-4283-ab50-a6d7dd3386fe");
  EXPECT_EQ(envelope["raw"]["query"], "shop=42");
  EXPECT_EQ(daemon.stop(), 0) << daemon.logs();
}

TEST(RbsConfig, ABadPublicKeyIsAConfigError) {
  RedisServer redis;
  DaemonOptions o;
  o.redis_url = redis.url();
  o.routes = R"(
[[routes]]
name = "bank-rsa"
provider = "rbs"
path = "/rbs-rsa"
checksum = "rsa"
public_key_file = "secrets/bank.pem"
forward = ["orders"]
)";
  DaemonProcess d(o);
  // A private key where the bank's public key belongs.
  writeFile(d.dir() + "/secrets/bank.pem", fixture("test-private.pem"));
  std::string out;
  EXPECT_EQ(runProgram({payhookdPath(), "--config", d.configPath(), "--check"}, &out), 2) << out;
  EXPECT_NE(out.find("public_key_file"), std::string::npos) << out;
  EXPECT_NE(out.find("private key"), std::string::npos) << out;
  EXPECT_EQ(out.find("MII"), std::string::npos) << out;
}

}  // namespace
}  // namespace payhook::testing
