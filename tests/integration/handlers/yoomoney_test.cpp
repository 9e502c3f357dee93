// YooMoney against the real payhookd and a real redis-server: provider-shaped form posts, the exact XML
// answers, and what is (or is not) stored. checkOrder's accept path needs the decision flow, so only its
// refusals are tested here; decided() is covered by the unit tests.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "handlers/digest.h"
#include "support/daemon_fixture.h"
#include "support/daemon_process.h"
#include "support/http_client.h"
#include "support/redis_server.h"
#include "support/store_inspect.h"
#include "support/yoomoney_form.h"

namespace payhook::testing {
namespace {

// The password and shop of YooMoney's published test vector.
constexpr const char* kPassword = yoomoney::kPassword;

constexpr const char* kRoutes = R"(
[[routes]]
name = "shop"
provider = "yoomoney"
path = "/yoomoney"
shop_id = "13"
shop_password_file = "secrets/yoomoney.pass"
decision = "orders"
forward = ["orders"]
)";

using yoomoney::encode;
using yoomoney::Fields;
using yoomoney::formBody;
using yoomoney::get;
using yoomoney::request;
using yoomoney::set;
using yoomoney::sign;

HttpResponse post(const DaemonProcess& d, const std::string& endpoint, const std::string& body) {
  return httpRequest(d.address(), "POST", "/yoomoney/" + endpoint,
                     {{"content-type", "application/x-www-form-urlencoded"}}, body);
}

// The body with its performedDatetime checked for the documented shape (xs:dateTime, milliseconds,
// offset) and replaced by "T", so the rest can be compared byte for byte.
std::string withoutDatetime(const std::string& body) {
  static const std::regex kDatetime(R"(performedDatetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00")");
  std::smatch m;
  if (!std::regex_search(body, m, kDatetime)) return "no performedDatetime in: " + body;
  return m.prefix().str() + "performedDatetime=\"T\"" + m.suffix().str();
}

std::string xml(const std::string& element, const std::string& rest) {
  return R"(<?xml version="1.0" encoding="UTF-8"?><)" + element + R"( performedDatetime="T" )" + rest + "/>";
}

class YooMoneyTest : public DaemonFixture {
 protected:
  void SetUp() override {
    DaemonOptions o;
    o.routes = kRoutes;
    createDaemon(o);
    writeSecret("yoomoney.pass", std::string(kPassword) + "\n");
    startDaemon();
  }
  void TearDown() override {
    if (daemon_) {
      EXPECT_EQ(daemon_->logs().find(kPassword), std::string::npos) << "the shop password reached the log";
    }
    DaemonFixture::TearDown();
  }
};

TEST_F(YooMoneyTest, AvisoIsStoredThenAnsweredCode0) {
  const std::string body = formBody(request("paymentAviso"));
  auto resp = post(*daemon_, "aviso", body);
  ASSERT_EQ(resp.status, 200) << daemon_->logs();
  EXPECT_EQ(resp.header("content-type"), "application/xml; charset=utf-8");
  EXPECT_EQ(withoutDatetime(resp.body),
            xml("paymentAvisoResponse", R"(code="0" invoiceId="55" shopId="13")"));

  auto id = redis_.command({"GET", "{payhook}:idem:shop:paymentAviso:55"});
  ASSERT_EQ(id.type, RedisReply::kString) << daemon_->logs();
  auto ev = eventHash(redis_, "{payhook}:ev:" + id.str);
  EXPECT_EQ(ev["type"], "yoomoney.payment_aviso");
  EXPECT_EQ(ev["route"], "shop");
  EXPECT_EQ(ev["provider"], "yoomoney");
  EXPECT_EQ(ev["verified"], "1");
  EXPECT_EQ(ev["idem"], "paymentAviso:55");
  EXPECT_EQ(ev["raw_method"], "POST");
  EXPECT_EQ(ev["raw_path"], "/yoomoney/aviso");
  EXPECT_EQ(ev["raw_content_type"], "application/x-www-form-urlencoded");
  EXPECT_EQ(ev["raw_body"], std::regex_replace(body, std::regex("md5=[^&]*"),
                                               "md5="));  // md5 blanked: it exposes the password to guessing
  auto data = nlohmann::json::parse(ev["data"]);
  EXPECT_EQ(data["payment"]["outcome"], "succeeded");
  EXPECT_EQ(data["payment"]["amount_minor"], 8710);
  data.erase("payment");
  EXPECT_EQ(data, nlohmann::json::parse(R"({
    "action": "paymentAviso", "shop_id": "13", "invoice_id": "55", "customer_number": "8123294469",
    "order_sum_amount": "87.10", "order_sum_currency_paycash": "643", "order_sum_bank_paycash": "1001",
    "unsigned": {"request_datetime": "2011-05-04T20:38:00.000+04:00", "shop_article_id": "456",
    "order_created_datetime": "2011-05-04T20:38:00.000+04:00", "shop_sum_amount": "86.23",
    "shop_sum_currency_paycash": "643", "shop_sum_bank_paycash": "1001", "payment_payer_code": "42007148320",
    "payment_type": "AC", "payment_datetime": "2011-05-04T20:38:10.000+04:00",
    "custom": {"cps_email": "user@example.com"}}})"));
  // The row an operator reads, and the invoiceId it is found by, stored in the same script.
  EXPECT_EQ(ev["ix"], "87.10\nRUB\npaymentAviso\nsucceeded\n55");
  EXPECT_EQ(redis_.command({"ZSCORE", "{payhook}:find", "55\n" + id.str}).str, "0");
  // One delivery job for the one target.
  auto due = queuedJobs(redis_);
  ASSERT_EQ(due.elements.size(), 1u);
  EXPECT_EQ(due.elements[0].str, id.str + "|orders");
}

TEST_F(YooMoneyTest, SevenIdenticalAvisosAreOneEventAllAnsweredCode0) {
  // The provider's schedule: the first delivery and 6 more attempts, each the same request.
  const std::string body = formBody(request("paymentAviso", "2000000001"));
  for (int i = 0; i < 7; ++i) {
    auto resp = post(*daemon_, "aviso", body);
    ASSERT_EQ(resp.status, 200) << "attempt " << i << "\n" << daemon_->logs();
    EXPECT_EQ(withoutDatetime(resp.body),
              xml("paymentAvisoResponse", R"(code="0" invoiceId="2000000001" shopId="13")"))
        << "attempt " << i;
  }
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 1u);
  EXPECT_EQ(countKeys(redis_, "{payhook}:idem:*"), 1u);
  EXPECT_EQ(queuedJobCount(redis_), 1);
  // A different invoice is a different event.
  ASSERT_EQ(post(*daemon_, "aviso", formBody(request("paymentAviso", "2000000002"))).status, 200);
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 2u);
}

TEST_F(YooMoneyTest, ForgedAvisoIsCode1AndNothingIsStored) {
  auto f = request("paymentAviso");
  set(&f, "orderSumAmount", "87.11");  // the amount changed after signing
  auto resp = post(*daemon_, "aviso", formBody(f));
  ASSERT_EQ(resp.status, 200);
  EXPECT_EQ(resp.header("content-type"), "application/xml; charset=utf-8");
  EXPECT_EQ(
      withoutDatetime(resp.body),
      xml("paymentAvisoResponse", R"(code="1" invoiceId="55" shopId="13" techMessage="md5 does not match")"));

  auto g = request("paymentAviso");
  sign(&g, "s<kY23653f,{9fcnshwr");  // the wrong password
  EXPECT_EQ(
      withoutDatetime(post(*daemon_, "aviso", formBody(g)).body),
      xml("paymentAvisoResponse", R"(code="1" invoiceId="55" shopId="13" techMessage="md5 does not match")"));
  expectNothingStored();
}

TEST_F(YooMoneyTest, WrongShopIdIsCode1AndNothingIsStored) {
  auto f = request("paymentAviso");
  set(&f, "shopId", "14");
  sign(&f);  // signed with this route's password, but for another shop
  auto resp = post(*daemon_, "aviso", formBody(f));
  ASSERT_EQ(resp.status, 200);
  EXPECT_EQ(withoutDatetime(resp.body),
            xml("paymentAvisoResponse",
                R"(code="1" invoiceId="55" shopId="14" techMessage="shopId does not match this route")"));
  expectNothingStored();
}

TEST_F(YooMoneyTest, MalformedAvisoIsCode200AndNothingIsStored) {
  auto f = request("paymentAviso");
  set(&f, "orderSumAmount", "87,10");
  sign(&f);
  EXPECT_EQ(withoutDatetime(post(*daemon_, "aviso", formBody(f)).body),
            xml("paymentAvisoResponse",
                R"(code="200" invoiceId="55" shopId="13" techMessage="bad number in orderSumAmount")"));
  // A signed checkOrder sent to the aviso URL.
  EXPECT_EQ(withoutDatetime(post(*daemon_, "aviso", formBody(request("checkOrder"))).body),
            xml("paymentAvisoResponse",
                R"(code="200" invoiceId="55" shopId="13" techMessage="action does not match the endpoint")"));
  expectNothingStored();
}

TEST_F(YooMoneyTest, CheckRefusalsAreAnsweredAndNothingIsStored) {
  auto f = request("checkOrder");
  set(&f, "md5", "00000000000000000000000000000000");
  auto resp = post(*daemon_, "check", formBody(f));
  ASSERT_EQ(resp.status, 200);
  EXPECT_EQ(resp.header("content-type"), "application/xml; charset=utf-8");
  EXPECT_EQ(
      withoutDatetime(resp.body),
      xml("checkOrderResponse", R"(code="1" invoiceId="55" shopId="13" techMessage="md5 does not match")"));

  auto g = request("checkOrder");
  std::erase_if(g, [](const auto& p) { return p.first == "customerNumber"; });
  EXPECT_EQ(withoutDatetime(post(*daemon_, "check", formBody(g)).body),
            xml("checkOrderResponse",
                R"(code="200" invoiceId="55" shopId="13" techMessage="missing field customerNumber")"));
  expectNothingStored();
}

TEST_F(YooMoneyTest, WrongMethodIs405) {
  auto r = httpRequest(daemon_->address(), "GET", "/yoomoney/aviso");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow"), "POST");
}

TEST_F(YooMoneyTest, RedisDownMeans503AndNothingStoredThenTheRetryIsStored) {
  redis_.kill();
  ASSERT_TRUE(daemon_->waitReady(503, 15'000));
  const std::string body = formBody(request("paymentAviso"));
  auto resp = post(*daemon_, "aviso", body);
  // Never code 1 or 200 here: some copies of the docs say those are not retried.
  EXPECT_EQ(resp.status, 503);
  EXPECT_EQ(resp.header("retry-after"), "5");
  EXPECT_EQ(resp.body.find("code="), std::string::npos);

  redis_.start();
  ASSERT_TRUE(daemon_->waitReady(200, 20'000)) << daemon_->logs();
  expectNothingStored();
  auto retry = post(*daemon_, "aviso", body);
  ASSERT_EQ(retry.status, 200) << daemon_->logs();
  EXPECT_EQ(withoutDatetime(retry.body),
            xml("paymentAvisoResponse", R"(code="0" invoiceId="55" shopId="13")"));
  EXPECT_EQ(countKeys(redis_, "{payhook}:ev:*"), 1u);
}

}  // namespace
}  // namespace payhook::testing
