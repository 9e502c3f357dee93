// allpay.kz through the real payhookd and a real redis-server: the base64 WebShopResponse as allpay posts
// it, signed by tests/fixtures/allpay/make-fixtures.sh (xmlsec1), answered only once stored.
#include <gtest/gtest.h>
#include <sodium.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "support/daemon_fixture.h"
#include "support/daemon_process.h"
#include "support/decision_sink.h"
#include "support/http_client.h"
#include "support/redis_server.h"
#include "support/sink.h"
#include "support/store_inspect.h"

namespace payhook::testing {
namespace {

constexpr const char* kV2Answer =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><WSCResp:WebShopCustomerResponse "
    "xmlns:WSCResp=\"http://allpay.kz/xsd/1.0.0/WebShopCustomerResponse.xsd\"><WSCResp:Status>0"
    "</WSCResp:Status><WSCResp:Reason></WSCResp:Reason></WSCResp:WebShopCustomerResponse>";

std::string fixture(const std::string& name) {
  std::ifstream f(std::string(PAYHOOK_SOURCE_DIR) + "/tests/fixtures/allpay/" + name, std::ios::binary);
  EXPECT_TRUE(f.good()) << name;
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// Wrapped at 76 columns, as allpay's Java encoder writes it.
std::string base64(const std::string& bytes) {
  std::string flat(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(flat.data(), flat.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  flat.pop_back();
  std::string out;
  for (size_t i = 0; i < flat.size(); i += 76) out += flat.substr(i, 76) + "\n";
  return out;
}

class AllpayTest : public DaemonFixture {
 protected:
  static void SetUpTestSuite() { ASSERT_GE(sodium_init(), 0); }
  void SetUp() override {
    DaemonOptions o;
    o.routes = R"(
[[routes]]
name = "allpay"
provider = "allpay"
path = "/allpay"
public_key_file = "secrets/allpay.pub.pem"
forward = ["orders"]

[[routes]]
name = "allpay-v2"
provider = "allpay"
path = "/allpay-v2"
public_key_file = "secrets/allpay.pub.pem"
answer = "v2"
status_form = "digit"
forward = ["orders"]
)";
    createDaemon(o);
    writeSecret("allpay.pub.pem", fixture("test-allpay.pub.pem"));
    startDaemon(10'000);
  }

  // allpay's POST: the base64 document as the whole body.
  HttpResponse notify(const std::string& body, const std::string& path = "/allpay/notify") {
    return httpRequest(daemon_->address(), "POST", path, {{"content-type", "application/xml"}}, body);
  }
};

TEST_F(AllpayTest, SignedNotificationIsStoredThenAnsweredOK) {
  const std::string body = base64(fixture("paid.xml"));
  auto resp = notify(body);
  ASSERT_EQ(resp.status, 200) << resp.body << daemon_->logs();
  EXPECT_EQ(resp.body, "OK");
  EXPECT_EQ(resp.header("content-type"), "text/plain; charset=utf-8");

  auto id = redis_.command({"GET", "{payhook}:idem:allpay:10:INV-100500:7:7730412:0"});
  ASSERT_EQ(id.type, RedisReply::kString);
  auto ev = eventHash(redis_, "{payhook}:ev:" + id.str);
  EXPECT_EQ(ev["type"], "allpay.payment_result");
  EXPECT_EQ(ev["route"], "allpay");
  EXPECT_EQ(ev["provider"], "allpay");
  EXPECT_EQ(ev["raw_body"], body);
  EXPECT_EQ(ev["raw_path"], "/allpay/notify");
  auto data = nlohmann::json::parse(ev["data"]);
  EXPECT_EQ(data, nlohmann::json::parse(R"({"invoice_number":"INV-100500","transaction_id":"7730412",
      "status":"0","status_description":"buyer@example.kz","paid":true,
      "payment":{"outcome":"succeeded","amount":null,"amount_minor":null,"currency":null,
                 "order_id":"INV-100500","provider_payment_id":"7730412","test":false,"warnings":[],"unsigned":[]}})"));
  auto due = queuedJobs(redis_);
  ASSERT_EQ(due.elements.size(), 1u);
  EXPECT_EQ(due.elements[0].str, id.str + "|orders");
  // The public key is not secret, but the log still carries no document body.
  EXPECT_EQ(daemon_->logs().find("buyer@example.kz"), std::string::npos);
}

TEST_F(AllpayTest, V2RouteAnswersWebShopCustomerResponse) {
  auto resp = notify(base64(fixture("failed.xml")), "/allpay-v2/notify");
  ASSERT_EQ(resp.status, 200) << resp.body << daemon_->logs();
  EXPECT_EQ(resp.header("content-type"), "application/xml; charset=utf-8");
  EXPECT_EQ(resp.body, kV2Answer);
  auto id = redis_.command({"GET", "{payhook}:idem:allpay-v2:7:INV-300:7:7730499:ERROR_NOT_ENOUGH_MONEY"});
  ASSERT_EQ(id.type, RedisReply::kString);
  auto data = nlohmann::json::parse(eventHash(redis_, "{payhook}:ev:" + id.str)["data"]);
  EXPECT_EQ(data["paid"], false);
  EXPECT_EQ(data["payment"]["outcome"], "failed");
}

TEST_F(AllpayTest, RepeatedNotificationIsOneEventAndTheSameAnswer) {
  const std::string body = base64(fixture("success-extra.xml"));
  for (int i = 0; i < 5; ++i) {
    auto resp = notify(body);
    EXPECT_EQ(resp.status, 200) << i;
    EXPECT_EQ(resp.body, "OK") << i;
  }
  for (int i = 0; i < 3; ++i) {
    auto resp = notify(body, "/allpay-v2/notify");
    EXPECT_EQ(resp.status, 200) << i;
    EXPECT_EQ(resp.body, kV2Answer) << i;
  }
  // One event per route (keys are per route), one delivery each.
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 2u);
  EXPECT_EQ(countKeys(redis_, "{payhook}:idem:allpay:*"), 1u);
  EXPECT_EQ(queuedJobCount(redis_), 2);
}

TEST_F(AllpayTest, ForgedNotificationIs403AndNothingIsStored) {
  auto resp = notify(base64(fixture("wrong-key.xml")));
  EXPECT_EQ(resp.status, 403);
  std::string tampered = fixture("paid.xml");
  tampered.replace(tampered.find("INV-100500"), 10, "INV-100501");
  EXPECT_EQ(notify(base64(tampered)).status, 403);
  EXPECT_EQ(notify(base64(fixture("partial-reference.xml"))).status, 403);
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 0u);
  EXPECT_EQ(countKeys(redis_, "{payhook}:idem:*"), 0u);
}

TEST_F(AllpayTest, MalformedNotificationIs400AndNothingIsStored) {
  std::string doctype = fixture("paid.xml");
  doctype.insert(doctype.find('\n') + 1, "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n");
  EXPECT_EQ(notify(base64(doctype)).status, 400);
  EXPECT_EQ(notify("not base64 at all").status, 400);
  EXPECT_EQ(notify(base64(fixture("no-transaction-id.xml"))).status, 400);
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 0u);
  // Only POST is served.
  EXPECT_EQ(httpRequest(daemon_->address(), "GET", "/allpay/notify").status, 405);
}

TEST_F(AllpayTest, RedisDownMeans503AndNothingAckedThenTheRetryIsStoredOnce) {
  redis_.kill();
  ASSERT_TRUE(daemon_->waitReady(503, 10'000));
  const std::string body = base64(fixture("paid.xml"));
  auto resp = notify(body);
  EXPECT_EQ(resp.status, 503);
  EXPECT_EQ(resp.header("retry-after"), "5");
  EXPECT_NE(resp.body, "OK");

  redis_.start();
  ASSERT_TRUE(daemon_->waitReady(200, 15'000)) << daemon_->logs();
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 0u);
  EXPECT_EQ(notify(body).status, 200);
  EXPECT_EQ(notify(body).status, 200);
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 1u);
}

// Protocol v2 with a `decision` target: the shop's app decides between DONE, FAIL and PENDING while allpay
// waits, and the notification, a payment that happened, still reaches the `forward` targets.
class AllpayDecideTest : public DaemonFixture {
 protected:
  static void SetUpTestSuite() { ASSERT_GE(sodium_init(), 0); }

  void start(const std::string& decision_url, const std::string& status_form = "name",
             const std::string& decision_timeout = "5s") {
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
name = "allpay"
provider = "allpay"
path = "/allpay"
public_key_file = "secrets/allpay.pub.pem"
answer = "v2"
status_form = ")" +
               status_form +
               R"("
decision = "shop-decisions"
decision_timeout = ")" +
               decision_timeout + R"("
forward = ["orders"]

[[routes]]
name = "allpay-v1"
provider = "allpay"
path = "/allpay-v1"
public_key_file = "secrets/allpay.pub.pem"
decision = "shop-decisions"
forward = ["orders"]
)";
    createDaemon(o);
    writeSecret("allpay.pub.pem", fixture("test-allpay.pub.pem"));
    startDaemon(10'000);
  }

  HttpResponse notify(const std::string& body, const std::string& path = "/allpay/notify") {
    return httpRequest(daemon_->address(), "POST", path, {{"content-type", "application/xml"}}, body);
  }

  static std::string answer(const std::string& status, const std::string& reason) {
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?><WSCResp:WebShopCustomerResponse "
           "xmlns:WSCResp=\"http://allpay.kz/xsd/1.0.0/WebShopCustomerResponse.xsd\"><WSCResp:Status>" +
           status + "</WSCResp:Status><WSCResp:Reason>" + reason +
           "</WSCResp:Reason></WSCResp:WebShopCustomerResponse>";
  }

  // The stored event for paid.xml on the decide route with the shop's `decision`, its data parsed.
  nlohmann::json storedData(const std::string& decision) {
    auto id = redis_.command({"GET", "{payhook}:idem:allpay:10:INV-100500:7:7730412:0:" + decision});
    EXPECT_EQ(id.type, RedisReply::kString) << daemon_->logs();
    if (id.type != RedisReply::kString) return nlohmann::json();
    auto ev = eventHash(redis_, "{payhook}:ev:" + id.str);
    EXPECT_EQ(ev["type"], "allpay.payment_result");
    EXPECT_EQ(ev["targets"], "orders");
    return nlohmann::json::parse(ev["data"], nullptr, false);
  }

  // What the forward target received, once it arrived.
  nlohmann::json delivered() {
    EXPECT_TRUE(waitFor([&] { return orders_.count() >= 1; })) << daemon_->logs();
    auto got = orders_.received();
    if (got.empty()) return nlohmann::json();
    return nlohmann::json::parse(got.back().body, nullptr, false);
  }

  Sink orders_{{200}};
};

TEST_F(AllpayDecideTest, TheShopsRefusalIsFailWithItsReasonAndTheEventIsStillDelivered) {
  DecisionSink shop;
  shop.answer(R"({"accept": false, "code": 7, "message": "order <42> was cancelled & refunded"})");
  start(shop.url());
  const std::string body = base64(fixture("paid.xml"));
  auto resp = notify(body);
  ASSERT_EQ(resp.status, 200) << daemon_->logs();
  EXPECT_EQ(resp.header("content-type"), "application/xml; charset=utf-8");
  EXPECT_EQ(resp.body, answer("FAIL", "order &lt;42&gt; was cancelled &amp; refunded"));

  // The shop was asked with the signed event, data.payment included.
  auto asked = shop.received();
  ASSERT_EQ(asked.size(), 1u);
  auto question = nlohmann::json::parse(asked[0].body, nullptr, false);
  EXPECT_EQ(question["type"], "allpay.payment_result");
  EXPECT_EQ(question["data"]["payment"]["outcome"], "succeeded");
  EXPECT_FALSE(question["data"].contains("decision"));

  // Stored under allpay's own key, with the decision, and queued for the forward target.
  auto data = storedData("refuse");
  EXPECT_EQ(data["decision"]["outcome"], "refuse");
  EXPECT_EQ(data["decision"]["accept"], false);
  EXPECT_EQ(data["decision"]["code"], 7);
  EXPECT_EQ(data["decision"]["message"], "order <42> was cancelled & refunded");
  auto envelope = delivered();
  EXPECT_EQ(envelope["type"], "allpay.payment_result");
  EXPECT_EQ(envelope["route"], "allpay");
  // allpay fails a payment the shop answers FAIL, whatever its Status said.
  EXPECT_EQ(envelope["data"]["payment"], nlohmann::json::parse(R"({"outcome":"failed","amount":null,
      "amount_minor":null,"currency":null,"order_id":"INV-100500","provider_payment_id":"7730412",
      "test":false,"warnings":["refused_by_shop"],"unsigned":[]})"));
  EXPECT_EQ(envelope["data"]["decision"]["outcome"], "refuse");
  EXPECT_EQ(envelope["data"]["decision"]["target"], "shop-decisions");
  EXPECT_EQ(envelope["raw"]["body"], body);
}

TEST_F(AllpayDecideTest, AcceptIsDoneAndPendingIsPendingInTheDigitForm) {
  DecisionSink shop;
  // "pending" wins over an "accept" beside it: an answer that says both has not accepted.
  shop.answer(R"({"pending": true, "accept": true, "message": "stock is being checked"})");
  start(shop.url(), "digit");
  const std::string body = base64(fixture("paid.xml"));
  auto first = notify(body);
  ASSERT_EQ(first.status, 200) << daemon_->logs();
  EXPECT_EQ(first.body, answer("PENDING", "stock is being checked"));
  EXPECT_EQ(storedData("pending")["decision"]["outcome"], "pending");
  auto pending = delivered();
  EXPECT_EQ(pending["data"]["decision"]["outcome"], "pending");
  EXPECT_EQ(pending["data"]["payment"]["outcome"], "pending");

  // allpay sends a notification answered PENDING again, answered from the shop's decision asked anew. The
  // new answer is news for the app: a second event, delivered with the outcome it now has.
  shop.answer(R"({"accept": true})");
  auto second = notify(body);
  ASSERT_EQ(second.status, 200) << daemon_->logs();
  EXPECT_EQ(second.body, answer("0", ""));
  EXPECT_EQ(shop.received().size(), 2u);
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 2u);
  EXPECT_EQ(storedData("accept")["decision"]["outcome"], "accept");
  EXPECT_TRUE(waitFor([&] { return orders_.count() >= 2; })) << daemon_->logs();
  EXPECT_EQ(nlohmann::json::parse(orders_.received().back().body)["data"]["payment"]["outcome"], "succeeded");

  // The same answer again is the duplicate of the event that answer made: nothing new stored or delivered.
  auto third = notify(body);
  EXPECT_EQ(third.body, answer("0", ""));
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 2u);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(orders_.count(), 2u);
}

TEST_F(AllpayDecideTest, NoAnswerInTimeIsPendingWithAFixedReason) {
  DecisionSink shop;
  shop.hold();
  start(shop.url(), "name", "500ms");
  auto resp = notify(base64(fixture("failed.xml")));
  ASSERT_EQ(resp.status, 200) << daemon_->logs();
  EXPECT_EQ(resp.body, answer("PENDING", "the shop has not confirmed the payment yet"));
  auto id =
      redis_.command({"GET", "{payhook}:idem:allpay:7:INV-300:7:7730499:ERROR_NOT_ENOUGH_MONEY:failed"});
  ASSERT_EQ(id.type, RedisReply::kString) << daemon_->logs();
  auto data = nlohmann::json::parse(eventHash(redis_, "{payhook}:ev:" + id.str)["data"]);
  EXPECT_EQ(data["decision"]["outcome"], "failed");
  EXPECT_EQ(data["decision"]["status"], 0);
  EXPECT_NE(data["decision"].value("message", "").find("timed out"), std::string::npos) << data.dump();
  auto envelope = delivered();
  EXPECT_EQ(envelope["data"]["payment"]["outcome"], "failed");
  EXPECT_EQ(envelope["data"]["decision"]["outcome"], "failed");
}

TEST_F(AllpayDecideTest, AProtocolV1RouteIgnoresTheDecisionTarget) {
  DecisionSink shop;
  start(shop.url());
  auto resp = notify(base64(fixture("paid.xml")), "/allpay-v1/notify");
  ASSERT_EQ(resp.status, 200) << daemon_->logs();
  EXPECT_EQ(resp.body, "OK");
  EXPECT_TRUE(shop.received().empty());
  EXPECT_FALSE(delivered()["data"].contains("decision"));
}

}  // namespace
}  // namespace payhook::testing
